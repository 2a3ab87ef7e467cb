package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPushSyncPull pushes a signed bundle to one registry, syncs it to a
// second, pulls it back from there, and checks the pulled directory is the
// one create and sign wrote, file for file, and verifies.
func TestPushSyncPull(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	for _, reg := range []struct {
		name string
		host func(testing.TB) string
	}{{"distribution", testutil.Distribution}, {"referrers API", testutil.Registry}} {
		t.Run(reg.name, func(t *testing.T) {
			first, second := reg.host(t), reg.host(t)
			client := testutil.Client(t)
			pushed, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.pack(t, ".tar.zst"), Reference: first + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			repo, _ := client.Repository(first + "/stellaops/mirror-bundle")
			root, err := repo.Resolve(ctx, s.rel.Spec.Version)
			if err != nil || root.Digest != pushed.Root {
				t.Fatalf("root %s (%v), want %s", root.Digest, err, pushed.Root)
			}
			refs, err := registry.Referrers(ctx, repo, root, "")
			if err != nil || len(refs) != 2 {
				t.Fatalf("referrers %v (%v)", refs, err)
			}
			synced, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: first + "/stellaops/mirror-bundle:" + s.rel.Spec.Version,
				Destination: second + "/mirror/bundles", Trust: trustKeys(s.pub), Images: true, Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			if synced.Root != pushed.Root {
				t.Fatalf("sync root %s, push root %s", synced.Root, pushed.Root)
			}
			for _, img := range s.rel.Images {
				r, _ := client.Repository(second + "/" + img.Repository)
				if d, err := r.Resolve(ctx, s.rel.Spec.Version); err != nil || d.Digest != img.Descriptor.Digest {
					t.Errorf("sync --images: %s = %s (%v)", img.Repository, d.Digest, err)
				}
			}
			out := filepath.Join(t.TempDir(), "pulled")
			pulled, err := mirror.Pull(ctx, mirror.PullOptions{Reference: second + "/mirror/bundles:" + s.rel.Spec.Version, Output: out,
				Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			if !pulled.Verified || pulled.Root != pushed.Root {
				t.Errorf("pull %+v", pulled)
			}
			assertSameTree(t, s.dir, out)
			if _, err := verify(out, trustKeys(s.pub)); err != nil {
				t.Errorf("verify of the pulled bundle: %v", err)
			}
			if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out, Trust: trustKeys(s.pub)}); err != nil {
				t.Errorf("verify-checksums of the pulled bundle: %v", err)
			}
		})
	}
}

// assertSameTree checks that two directories hold the same files with the
// same bytes.
func assertSameTree(t *testing.T, want, got string) {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(want, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(want, p)
			files[rel], _ = os.ReadFile(p)
		}
		return nil
	})
	filepath.WalkDir(got, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		data, _ := os.ReadFile(p)
		w, ok := files[rel]
		switch {
		case !ok:
			t.Errorf("pulled directory has %s, the original does not", rel)
		case !bytes.Equal(w, data):
			t.Errorf("%s differs", rel)
		}
		delete(files, rel)
		return nil
	})
	for rel := range files {
		t.Errorf("pulled directory lacks %s", rel)
	}
	_ = bundle.ArtifactTypeDSSE
}

// TestPushToRegistryRejectingArtifacts: a registry that refuses manifests
// with an artifactType gets a clear error naming it, and no tag.
func TestPushToRegistryRejectingArtifacts(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				body, _ := io.ReadAll(r.Body)
				if bytes.Contains(body, []byte(`"artifactType"`)) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"artifactType not supported"}]}`)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Client: testutil.Client(t), Transfer: transferOpts()})
	if err == nil || !strings.Contains(err.Error(), "registry "+host+" refused the manifest") {
		t.Fatalf("err = %v", err)
	}
	for repo, tags := range testutil.Tags(t, host) {
		if len(tags) > 0 {
			t.Errorf("%s tagged %v after a refused push", repo, tags)
		}
	}
}

// TestInspectRegistryAndKey inspects a bundle in a registry, with its
// signature checked; another key is refused.
func TestInspectRegistryAndKey(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	ctx := context.Background()
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	res, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: ref, Trust: trustKeys(s.pub), Client: client})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := mirror.Inspect(ctx, s.dir, fixedTime)
	if res.Root != local.Root || res.Totals != local.Totals || len(res.Signers) != 1 || !res.Signed {
		t.Errorf("inspect of the registry copy %+v, of the directory %+v", res, local)
	}
	_, other := testKeys(t, "other")
	if _, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: ref, Trust: trustKeys(other), Client: client}); !errors.Is(err, errdef.ErrSignature) {
		t.Errorf("inspect with another key: %v", err)
	}
}

// TestPushSyncRefuseOlderOrExpired: push and sync refuse what import
// refuses: a bundle older than the newest one the destination repository
// holds (which would move the release's tag back to older content) and one
// past its expiry, writing nothing; --allow-rollback and --allow-expired
// let them through.
func TestPushSyncRefuseOlderOrExpired(t *testing.T) {
	ctx := context.Background()
	older := newSignedSample(t, sample.Spec{}, 0)
	newer := newSignedSample(t, sample.Spec{Variant: 7}, fixedTime.Unix()+1)
	// Signed with older's key too: only bundles that verify under the
	// push's trust count as held.
	sign(t, newer.dir, older.priv)
	client := testutil.Client(t)
	dst, other := testutil.Registry(t), testutil.Registry(t)
	var olderRoot digest.Digest
	push := func(s *signedSample, host string, change func(*mirror.PushOptions)) error {
		opts := mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}
		if change != nil {
			change(&opts)
		}
		res, err := mirror.Push(ctx, opts)
		if err == nil && s == older {
			olderRoot = res.Root
		}
		return err
	}
	sync := func(change func(*mirror.SyncOptions)) error {
		opts := mirror.SyncOptions{Now: testNow, Source: other + "/stellaops/mirror-bundle:" + older.rel.Spec.Version, Destination: dst + "/stellaops/mirror-bundle",
			Trust: trustKeys(older.pub), Images: true, Client: client, Transfer: transferOpts()}
		if change != nil {
			change(&opts)
		}
		_, err := mirror.Sync(ctx, opts)
		return err
	}
	if err := push(newer, dst, nil); err != nil {
		t.Fatal(err)
	}
	if err := push(older, other, nil); err != nil {
		t.Fatal(err)
	}
	held := testutil.Tags(t, dst)
	expired := func(now *time.Time) { *now = readManifest(t, older.dir).ExpiresAt.Add(time.Second) }
	for _, tt := range []struct {
		name string
		run  func() error
		want error
	}{
		{"push older", func() error { return push(older, dst, nil) }, errdef.ErrGeneration},
		{"sync older", func() error { return sync(nil) }, errdef.ErrGeneration},
		{"push expired", func() error {
			return push(older, dst, func(o *mirror.PushOptions) { o.AllowRollback = true; expired(&o.Now) })
		}, errdef.ErrExpired},
		{"sync expired", func() error {
			return sync(func(o *mirror.SyncOptions) { o.AllowRollback = true; expired(&o.Now) })
		}, errdef.ErrExpired},
	} {
		err := tt.run()
		if !errors.Is(err, tt.want) {
			t.Fatalf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if !strings.Contains(err.Error(), older.rel.Spec.Version) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q does not name the bundle on one line", tt.name, err)
		}
		if after := testutil.Tags(t, dst); !reflect.DeepEqual(held, after) {
			t.Fatalf("%s: tags changed from %v to %v", tt.name, held, after)
		}
	}
	// Allowed, the older bundle takes the tag.
	if err := push(older, dst, func(o *mirror.PushOptions) { o.AllowRollback = true }); err != nil {
		t.Fatal(err)
	}
	repo, _ := client.Repository(dst + "/stellaops/mirror-bundle")
	if d, err := repo.Resolve(ctx, older.rel.Spec.Version); err != nil || d.Digest != olderRoot {
		t.Errorf("after push --allow-rollback the tag is %s (%v), want the older root %s", d.Digest, err, olderRoot)
	}
	if err := sync(func(o *mirror.SyncOptions) { o.AllowExpired = true; expired(&o.Now) }); err != nil {
		t.Errorf("sync --allow-expired: %v", err)
	}
}
