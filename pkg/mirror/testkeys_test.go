package mirror_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// testKeys gives the test a cosign key pair of its own files, name.key
// (encrypted with testPassword) and name.pub, in a directory of its own.
// Each call within one test (its subtests too) gives another key, as
// generating one each time did; the keys themselves are made once for
// the whole run and handed to test after test. Keys cost: scrypt, on
// every keygen and every signature, was half of this package's CPU time.
// They are encrypted with cosign's legacy scrypt parameters (N=2^15, as
// cosign wrote them before v2, and still reads), half the work of every
// decryption that cosign's current ones (N=2^16, mirror.Keygen's, whose
// own tests use it) cost. Nothing about a key pair is shared but its
// bytes: no test sees another's files.
func testKeys(t testing.TB, name string) (priv, pub string) {
	t.Helper()
	kp := testKeyPool.take(t, name)
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(priv, kp.priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, kp.pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

type testKeyPair struct{ priv, pub []byte }

// testKeyPool holds the key pairs made for each name, and how many of a
// name each top-level test took.
var testKeyPool = keyPool{made: map[string][]testKeyPair{}, taken: map[string]int{}}

type keyPool struct {
	mu    sync.Mutex
	made  map[string][]testKeyPair
	taken map[string]int // by top-level test name and key name
}

func (p *keyPool) take(t testing.TB, name string) testKeyPair {
	t.Helper()
	top, _, _ := strings.Cut(t.Name(), "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.taken[top+"\x00"+name]
	p.taken[top+"\x00"+name] = n + 1
	for len(p.made[name]) <= n {
		p.made[name] = append(p.made[name], newTestKeyPair(t))
	}
	return p.made[name][n]
}

// newTestKeyPair makes a P-256 key pair as cosign's generate-key-pair
// writes it (PKCS #8 in scrypt and secretbox, as ENCRYPTED SIGSTORE
// PRIVATE KEY), with the legacy scrypt parameters.
func newTestKeyPair(t testing.TB) testKeyPair {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.EncryptWithCustomKDFParameters(der, []byte(testPassword), encrypted.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testKeyPair{
		priv: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}),
		pub:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}
}
