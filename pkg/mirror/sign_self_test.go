package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSignRefusesToWriteOverItsInput: sign given the envelope it writes as
// the file to sign (sign bundle/manifest.dsse, as verify takes it, the
// output left at its default, manifest.dsse beside it) signed the
// envelope's own bytes and wrote the new envelope over the old one, exit
// 0: every signature already there (a two-person bundle's first) was
// lost, and the bundle no longer verified; so did another file of the
// bundle signed (sign DIR/index.json), its envelope written over the
// bundle's. An --output naming the file signed (manifest.json) was
// refused advising to remove it. All are refused before the key is
// opened, naming the file, and nothing is written (found by review).
func TestSignRefusesToWriteOverItsInput(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	sign(t, dir, priv)
	other, _ := testKeys(t, "other")
	for name, opts := range map[string]mirror.SignOptions{
		"the envelope, output by default": {Manifest: filepath.Join(dir, "manifest.dsse")},
		"the envelope, output named":      {Manifest: filepath.Join(dir, "manifest.dsse"), Output: filepath.Join(dir, ".", "manifest.dsse")},
		"manifest.json as output":         {Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.json")},
		"another file of the bundle":      {Manifest: filepath.Join(dir, "index.json")},
	} {
		t.Run(name, func(t *testing.T) {
			before := map[string][]byte{}
			for _, f := range []string{"manifest.json", "manifest.dsse"} {
				before[f], _ = os.ReadFile(filepath.Join(dir, f))
			}
			opts.Key, opts.Password = other, testPass
			_, err := mirror.Sign(context.Background(), opts)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), filepath.Base(opts.Manifest)) {
				t.Fatalf("sign %s: %v; want a usage error naming it", opts.Manifest, err)
			}
			for f, data := range before {
				if now, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(now, data) {
					t.Errorf("%s was written", f)
				}
			}
		})
	}
}
