package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// An operator who gives the key itself to --key (`--key "$COSIGN_PRIVATE_KEY"`
// or `--key "$COSIGN_PRIVATE_KEY_B64"` for env://VAR) was told "key
// -----BEGIN EC PRIVATE KEY----- …: no such file", the private key whole
// on stderr (and in --format json's error): a CI log keeps it. It is
// refused as usage (exit 1), pointing at env://, and never echoed (found
// by review). TROUBLESHOOT: nothing stella prints ever holds a private key.
func TestInlineKeyNeverEchoed(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(priv)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	b64Key := base64.StdEncoding.EncodeToString([]byte(pemKey))
	// The base64 of the DER alone, as `openssl ec -outform DER | base64`
	// gives it (found by review: it was taken for a file name, echoed).
	b64DER := base64.StdEncoding.EncodeToString(der)
	// The base64 of a key file whose PEM does not start it: saved with a
	// UTF-8 byte order mark, or as openssl pkcs12 writes it, its "Bag
	// Attributes" lines first (found by review: taken for a file name,
	// echoed whole).
	b64BOM := base64.StdEncoding.EncodeToString([]byte("\xEF\xBB\xBF" + pemKey))
	b64Bag := base64.StdEncoding.EncodeToString([]byte("Bag Attributes\n    friendlyName: signing\n" + pemKey))
	// The base64 of a key file saved as UTF-16 (Windows PowerShell's >),
	// little- and big-endian (found by review: taken for a file name,
	// echoed whole).
	b64UTF16LE := base64.StdEncoding.EncodeToString(testutil.UTF16Text([]byte(pemKey), false))
	b64UTF16BE := base64.StdEncoding.EncodeToString(testutil.UTF16Text([]byte(pemKey), true))
	// The secret part of the PEM: its first base64 line holds the scalar.
	secretLine := strings.Split(pemKey, "\n")[1]

	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.json")
	os.WriteFile(manifest, []byte("{}\n"), 0o644)
	cases := [][]string{
		{"mirror", "sign", manifest, "--key", pemKey, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64Key, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64DER, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64BOM, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64Bag, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64UTF16LE, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", b64UTF16BE, "--output", filepath.Join(dir, "manifest.dsse")},
		{"mirror", "sign", manifest, "--key", pemKey, "--output", filepath.Join(dir, "manifest.dsse"), "--format", "json"},
		// verify reads the bundle first: refused for it here, it must not
		// echo the key either.
		{"mirror", "verify", manifest, "--key", pemKey},
	}
	for _, args := range cases {
		code, stdout, stderr := run(t, args...)
		out := stdout + stderr
		if args[1] == "sign" && (code != 1 || !strings.Contains(out, "a key given itself") || !strings.Contains(out, "env://NAME")) {
			t.Errorf("%s with the key given itself: exit %d, want 1 and env:// named:\n%.300s", args[1], code, out)
		}
		for name, s := range map[string]string{"PEM line": secretLine, "base64 of PEM": b64Key[:40], "base64 of DER": b64DER[:40],
			"base64 of PEM after a byte order mark": b64BOM[:40], "base64 of PEM after text": b64Bag[:40],
			"base64 of UTF-16LE PEM": b64UTF16LE[:40], "base64 of UTF-16BE PEM": b64UTF16BE[:40]} {
			if strings.Contains(out, s) {
				t.Errorf("%s %s: output holds the private key (%s):\n%.300s", args[1], args[4][:10], name, out)
			}
		}
	}
}
