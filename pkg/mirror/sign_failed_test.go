package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSignFailedLeavesBundleAsItWas cuts a sign of a bundle directory
// after it has added the signature's blobs and written manifest.dsse and
// public-key.pem: certificate.pem, which it then removes, is a directory
// it cannot remove (as a full disk or EIO would cut it). The bundle is as
// it was, file for file, and verifies as it did: the blobs added and a new
// manifest.dsse beside the old index.json failed verify (malformed) and
// verify-checksums (not listed, mismatch) of a bundle that passed both.
func TestSignFailedLeavesBundleAsItWas(t *testing.T) {
	ctx := context.Background()
	unsigned := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	otherPriv, _ := testKeys(t, "other")
	signed := copyBundle(t, unsigned)
	sign(t, signed, priv)
	tests := []struct {
		name, from, key string
		trust           mirror.TrustOptions
	}{
		{"unsigned", unsigned, priv, mirror.TrustOptions{}},
		{"signed again", signed, priv, trustKeys(pub)},
		{"a second signer", signed, otherPriv, trustKeys(pub)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, tt.from)
			before := readTree(t, dir)
			obstacle := filepath.Join(dir, "certificate.pem")
			if err := os.MkdirAll(filepath.Join(obstacle, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := mirror.Sign(ctx, mirror.SignOptions{
				Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
				Key: tt.key, Password: testPass, Created: fixedTime,
			})
			if err == nil {
				t.Fatal("sign went past a certificate.pem it cannot remove")
			}
			if err := os.RemoveAll(obstacle); err != nil {
				t.Fatal(err)
			}
			checkBundleAsItWas(t, dir, before, tt.trust, err)
		})
	}
}

// checkBundleAsItWas checks that a sign that failed (err) left the bundle
// dir as before was, no file changed, left or removed, and that it still
// verifies as it did.
func checkBundleAsItWas(t *testing.T, dir string, before map[string]string, trust mirror.TrustOptions, err error) {
	t.Helper()
	after := readTree(t, dir)
	for name, data := range after {
		if old, ok := before[name]; !ok {
			t.Errorf("the failed sign (%v) left %s", err, name)
		} else if old != data {
			t.Errorf("the failed sign (%v) changed %s", err, name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			t.Errorf("the failed sign (%v) removed %s", err, name)
		}
	}
	if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trust}); err != nil {
		t.Errorf("verify-checksums after the failed sign: %v", err)
	}
	if !trust.Empty() {
		if _, err := verify(dir, trust); err != nil {
			t.Errorf("verify after the failed sign: %v", err)
		}
	}
}
