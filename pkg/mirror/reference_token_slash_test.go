package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTokenHoldingSlashInReferenceNotEchoed: a reference with a token
// holding a / (base64: TOKEN/…@HOST/REPO:TAG) before its host was not
// seen to hold credentials, only an @ before the first / ending them, and
// pull, inspect and import printed it whole: 'bundle reference
// "TOKEN/…@HOST/REPO:TAG": invalid reference: invalid repository' (found
// by review).
func TestTokenHoldingSlashInReferenceNotEchoed(t *testing.T) {
	const secret = "s3cr3t+T0ken/Base64="
	for _, ref := range []string{"gl/" + secret + "@registry.internal/stellaops/mirror-bundle:1", "https://gl/" + secret + "@127.0.0.1:5000/a/b:1", "gl/" + secret + "@localhost:5000/a@sha256:" + strings.Repeat("a", 64)} {
		shown := strings.ReplaceAll(ref, secret, "SECRET")
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("pull %s: %v; want it refused as holding credentials, the token blanked", shown, err)
		}
		_, err = mirror.Import(context.Background(), mirror.ImportOptions{Source: ref, Registry: "127.0.0.1:1", Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("import %s: %v; want it refused as holding credentials, the token blanked", shown, err)
		}
	}
}

// TestTokenHoldingSlashBeforeOneLabelHostNotEchoed: a token holding a /
// before a host of one label (TOKEN/…@myreg/REPO:TAG, a registry oras
// reads as any other, where TOKEN@myreg/… without the / was blanked) was
// taken for no credentials, the host not reading as one (no dot, no
// port), and pull, push, sync, inspect, import and catalog printed it
// whole; a path below a directory that exists (DIR/bundle@site-a/…) is
// still a path, not found (found by review).
func TestTokenHoldingSlashBeforeOneLabelHostNotEchoed(t *testing.T) {
	const secret = "s3cr3t+T0ken/Base64="
	ref := "gl/" + secret + "@myreg/stellaops/mirror-bundle:1"
	_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
	if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("pull: %v; want it refused as holding credentials, the token blanked", err)
	}
	_, err = mirror.Import(context.Background(), mirror.ImportOptions{Source: ref, Registry: "127.0.0.1:1", Client: testutil.Client(t)})
	if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("import: %v; want it refused as holding credentials, the token blanked", err)
	}
	path := filepath.Join(t.TempDir(), "backups", "bundle@site-a", "bundle.tar")
	_, err = mirror.Import(context.Background(), mirror.ImportOptions{Source: path, Registry: "127.0.0.1:1", Client: testutil.Client(t)})
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("import %s: %v; want it not found, a path", path, err)
	}
}

// TestTokenHoldingSlashBeforeHostWithoutPathNotEchoed: a reference whose
// token holds a / before a host with no repository after it
// (TOKEN/…@registry.internal, TOKEN/…@registry, https://TOKEN/…@HOST:
// the repository left out) was taken for no credentials, no path
// following the @, and pull and catalog printed it whole ('bundle
// reference "TOKEN/…@…": invalid reference', "no scheme"); a path one
// could have mistyped (backups/bundle@site-a) is still not taken for
// credentials (found by review).
func TestTokenHoldingSlashBeforeHostWithoutPathNotEchoed(t *testing.T) {
	const secret = "s3cr3t+T0ken/Base64="
	for _, ref := range []string{"gl/" + secret + "@registry.internal", "gl/" + secret + "@registry", "https://gl/" + secret + "@registry"} {
		shown := strings.ReplaceAll(ref, secret, "SECRET")
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "b"), Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("pull %s: %v; want it refused as holding credentials, the token blanked", shown, err)
		}
		_, err = mirror.Catalog(context.Background(), mirror.CatalogOptions{Repository: ref, Client: testutil.Client(t)})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("catalog %s: %v; want it refused as holding credentials, the token blanked", shown, err)
		}
	}
	_, err := mirror.Import(context.Background(), mirror.ImportOptions{Source: "backups/bundle@site-a", Registry: "127.0.0.1:1", Client: testutil.Client(t)})
	if err == nil || strings.Contains(err.Error(), "credentials") {
		t.Errorf("import backups/bundle@site-a: %v; want it refused as no credentials", err)
	}
}
