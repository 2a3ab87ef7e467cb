package mirror_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
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
