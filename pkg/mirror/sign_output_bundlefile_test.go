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

// TestSignOutputAnotherFileOfTheBundle: sign --output naming a file of a
// bundle directory that is not its envelope (public-key.pem, SHA256SUMS,
// index.json, a typo or a completion away from manifest.dsse) was refused
// as "existing envelope: … (remove it to start afresh)": advice to remove
// a file of the bundle, after which it no longer verifies. It is refused
// as usage before the key is opened, naming the envelope to give, and
// nothing is written (found by review).
func TestSignOutputAnotherFileOfTheBundle(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig", "index.json", "oci-layout"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			before, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			_, err = mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Output: out, Key: priv, Password: testPass})
			if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "remove it") || !strings.Contains(err.Error(), filepath.Join(dir, "manifest.dsse")) {
				t.Errorf("sign --output %s: %v; want a usage error naming %s", name, err, filepath.Join(dir, "manifest.dsse"))
			}
			if now, _ := os.ReadFile(out); !bytes.Equal(now, before) {
				t.Errorf("%s was written", name)
			}
		})
	}
}
