package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// substitutedSideFiles copies a signed bundle directory and replaces its
// side files as whoever held the medium could: another public-key.pem,
// SHA256SUMS written again and SHA256SUMS.sig signed with that key, which
// did not sign the envelope. The bundle still verifies; its side files are
// not the ones its signing vouches for.
func substitutedSideFiles(t *testing.T, dir string) string {
	t.Helper()
	out := copyBundle(t, dir)
	otherPriv, otherPub := testKeys(t, "substitute")
	writeFile(t, filepath.Join(out, "public-key.pem"), string(readFile(t, otherPub)))
	resum(t, out, otherPriv)
	return out
}

// TestPlaceReportsFilesNotCarried: import and push leave behind side files
// the envelope's signers did not vouch for, and say so in their result
// (filesNotCarried in --format json), not only in a warning on stderr,
// which automation does not read. A bundle whose side files are its
// signer's reports nothing.
func TestPlaceReportsFilesNotCarried(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	bad := substitutedSideFiles(t, s.dir)
	places := map[string]func(dir string) (*mirror.PlaceResult, error){
		"import": func(dir string) (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, dir, testutil.Registry(t), s.pub))
		},
		"push": func(dir string) (*mirror.PlaceResult, error) {
			return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
	}
	for name, place := range places {
		t.Run(name, func(t *testing.T) {
			res, err := place(bad)
			if err != nil {
				t.Fatal(err)
			}
			assertFilesNotCarried(t, res, "SHA256SUMS.sig does not verify SHA256SUMS with a key that signed the envelope")
			res, err = place(s.dir)
			if err != nil {
				t.Fatal(err)
			}
			if res.FilesNotCarried != nil {
				t.Errorf("the signer's own side files reported as not carried: %+v", res.FilesNotCarried)
			}
		})
	}
}

// assertFilesNotCarried fails unless res says the three side files of a
// key-signed bundle were left behind, for a reason (one line) that says
// reason.
func assertFilesNotCarried(t *testing.T, res *mirror.PlaceResult, reason string) {
	t.Helper()
	left := res.FilesNotCarried
	if left == nil {
		t.Fatal("result does not say the side files were not carried")
	}
	if want := []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig"}; !slices.Equal(left.Files, want) {
		t.Errorf("files not carried %q, want %q", left.Files, want)
	}
	if !strings.Contains(left.Reason, reason) || strings.ContainsAny(left.Reason, "\n\r") {
		t.Errorf("reason %q: want one line saying %q", left.Reason, reason)
	}
}

// TestRegistryPlaceReportsFilesNotCarried: a bundle read from a registry
// (sync, import REF) whose only files referrer is not the signer's (its
// SHA256SUMS.sig verifies with another key: a medium's substituted side
// files attached by hand, or anyone who may push there) is placed without
// them, and the result says so as import and push of a directory do (pull
// writes it without them, and says so too). It
// used to leave them behind with only the warning that the referrer was
// skipped: filesNotCarried was absent.
func TestRegistryPlaceReportsFilesNotCarried(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	bad := substitutedSideFiles(t, s.dir)
	src := testutil.Registry(t)
	ref := src + "/stellaops/mirror-bundle"
	pushed, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: bad, Reference: ref, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	attachFilesReferrer(t, rawRepo{t: t, host: src, name: "stellaops/mirror-bundle"}, pushed.Root, bad)
	if n := len(referrersOf(t, ref, pushed.Root)); n != 2 {
		t.Fatalf("%d referrers of the source root, want 2 (signature, substituted files)", n)
	}
	tagged := ref + ":" + s.rel.Spec.Version
	places := map[string]func() (*mirror.PlaceResult, error){
		"sync": func() (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"sync without --key": func() (*mirror.PlaceResult, error) {
			return mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
				Client: testutil.Client(t), Transfer: transferOpts()})
		},
		"import REF": func() (*mirror.PlaceResult, error) {
			return mirror.Import(ctx, importOpts(t, tagged, testutil.Registry(t), s.pub))
		},
	}
	for name, place := range places {
		t.Run(name, func(t *testing.T) {
			res, err := place()
			if err != nil {
				t.Fatal(err)
			}
			assertFilesNotCarried(t, res, "SHA256SUMS.sig does not verify SHA256SUMS with a key that signed the envelope")
			if n := len(referrersOf(t, res.Registry+"/"+res.BundleRepository, res.Root)); n != 1 {
				t.Errorf("%d referrers of the placed root, want the signature alone", n)
			}
		})
	}

	t.Run("pull", func(t *testing.T) {
		res, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: filepath.Join(t.TempDir(), "pulled"), Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		if err != nil {
			t.Fatal(err)
		}
		assertFilesNotCarried(t, &mirror.PlaceResult{FilesNotCarried: res.FilesNotCarried}, "SHA256SUMS.sig does not verify SHA256SUMS with a key that signed the envelope")
		if _, err := os.Stat(filepath.Join(res.Path, "public-key.pem")); !os.IsNotExist(err) {
			t.Errorf("pull wrote the passed-over public-key.pem: %v", err)
		}
	})

	// The signer's own files, read from a registry, are carried and
	// reported as nothing left.
	good := testutil.Registry(t) + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: good, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: good + ":" + s.rel.Spec.Version, Destination: testutil.Registry(t) + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesNotCarried != nil {
		t.Errorf("the signer's own side files reported as not carried: %+v", res.FilesNotCarried)
	}
}

// attachFilesReferrer attaches to root, in r, a files referrer holding the
// side files of the bundle directory dir, as push builds one.
func attachFilesReferrer(t *testing.T, r rawRepo, root digest.Digest, dir string) {
	t.Helper()
	repo, err := testutil.Client(t).Repository(r.host + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := repo.Resolve(context.Background(), root.String())
	if err != nil {
		t.Fatal(err)
	}
	var files []bundle.NamedFile
	for _, name := range []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig"} {
		files = append(files, bundle.NamedFile{Name: name, Data: readFile(t, filepath.Join(dir, name))})
	}
	doc, layers, err := bundle.FilesManifest(subject, files, testNow)
	if err != nil {
		t.Fatal(err)
	}
	r.push(bundle.EmptyConfig.MediaType, bundle.EmptyConfigBytes)
	for i, l := range layers {
		r.push(l.MediaType, files[i].Data)
	}
	r.push(ocispec.MediaTypeImageManifest, doc.Bytes)
}
