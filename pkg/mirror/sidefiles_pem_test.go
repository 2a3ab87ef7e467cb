package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDamagedPublicKeyFileNamed: a bundle directory whose public-key.pem
// has a damaged PEM block (cut short before its END line) was refused by
// pack, push and verify as "a sign that did not finish … run sign again",
// exit 5; sign refuses to co-sign beside it, so that advice led nowhere.
// The file and the block are now named, exit 11 (a malformed bundle).
func TestDamagedPublicKeyFileNamed(t *testing.T) {
	dir := makeBundle(t)
	priv, pub := testKeys(t, "signer")
	sign(t, dir, priv)
	pubPath := filepath.Join(dir, layout.PublicKeyFile)
	pem := string(readFile(t, pubPath))
	end := strings.LastIndex(pem, "-----END ")
	if end <= 0 {
		t.Fatalf("public-key.pem: %q", pem)
	}
	writeFile(t, pubPath, pem[:end])
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), pubPath) || !strings.Contains(err.Error(), "PEM block 1") || strings.Contains(err.Error(), "sign again") {
			t.Errorf("%s beside a damaged public-key.pem: %v; want malformed, naming %s and its PEM block 1", name, err, pubPath)
		}
	}
	_, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: filepath.Join(t.TempDir(), "b.tar")})
	check("pack", err)
	_, err = verify(dir, trustKeys(pub))
	check("verify", err)
	if _, err := os.Stat(pubPath); err != nil {
		t.Fatal(err)
	}
}
