package mirror_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestTokenExpiresMidTransfer runs every command that talks to a registry
// against one whose bearer tokens stop being accepted after a few requests
// (a hosted registry's token expiring part-way through a long transfer):
// each fetches a new token and goes on, blob reads and writes, chunked
// uploads from a stream, manifests, tags and referrers alike.
func TestTokenExpiresMidTransfer(t *testing.T) {
	t.Parallel()
	spec := sample.Spec{BaseLayerSize: 9 << 20, LayerSize: 1 << 20}
	s := newSignedSample(t, spec, 0)
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	hosted := func() (string, *testutil.ExpiringTokens) {
		exp := &testutil.ExpiringTokens{Tokens: tokens, Lifetime: 20}
		return testutil.ProxyWrapped(t, testutil.Registry(t), exp.Wrap), exp
	}
	host, exp := hosted()
	other, otherExp := hosted()
	auth := base64.StdEncoding.EncodeToString([]byte("mirror:s3cret"))
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, fmt.Appendf(nil, `{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`, host, auth, other, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: config, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := func(c *remote.Client, ref, tag string) string {
		t.Helper()
		repo, _ := c.Repository(ref)
		d, err := repo.Resolve(ctx, tag)
		if err != nil {
			t.Fatalf("%s:%s: %v", ref, tag, err)
		}
		return d.Digest.String()
	}
	version := s.rel.Spec.Version

	t.Run("import", func(t *testing.T) {
		opts := importOpts(t, s.foreign(t, ".tar.gz"), host, s.pub)
		opts.Client = client
		res, err := mirror.Import(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := root(client, host+"/stellaops/mirror-bundle", version); got != res.Root.String() {
			t.Errorf("imported root %s, tagged %s", res.Root, got)
		}
	})
	pushed, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/pushed/bundle", Client: client, Transfer: transferOpts()})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := root(client, host+"/pushed/bundle", version); got != pushed.Root.String() {
		t.Errorf("pushed root %s, tagged %s", pushed.Root, got)
	}
	t.Run("pull", func(t *testing.T) {
		res, err := mirror.Pull(ctx, mirror.PullOptions{Reference: host + "/pushed/bundle:" + version, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
		if err != nil || res.Root != pushed.Root {
			t.Fatalf("pull: %v (root %v)", err, res)
		}
	})
	t.Run("sync", func(t *testing.T) {
		res, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: host + "/pushed/bundle:" + version, Destination: other + "/synced/bundle",
			Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
		if err != nil {
			t.Fatal(err)
		}
		if got := root(client, other+"/synced/bundle", version); got != pushed.Root.String() || res.Root != pushed.Root {
			t.Errorf("synced root %s, tagged %s, pushed %s", res.Root, got, pushed.Root)
		}
	})
	t.Run("create", func(t *testing.T) {
		inner := testutil.Registry(t)
		created := &testutil.ExpiringTokens{Tokens: tokens, Lifetime: 20}
		src := testutil.ProxyWrapped(t, inner, created.Wrap)
		plain := testutil.Client(t)
		spec := spec
		spec.Registry = src
		rel, err := sample.Push(ctx, spec, func(repo string) (sample.Pusher, error) { return plain.Repository(inner + "/" + repo) })
		if err != nil {
			t.Fatal(err)
		}
		releaseFile, advisories, err := rel.WriteFiles(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		opts := createOpts(t, releaseFile, advisories, filepath.Join(t.TempDir(), "bundle"))
		opts.Client, err = remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, src, "mirror", "s3cret"), Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if created.Expired.Load() == 0 {
			t.Error("no token expired during create")
		}
	})
	if exp.Expired.Load() == 0 || otherExp.Expired.Load() == 0 {
		t.Errorf("tokens expired %d times at the first registry, %d at the second: the test did not test", exp.Expired.Load(), otherExp.Expired.Load())
	}
}
