package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

const password = "correct horse battery staple"

func pass(pw string) keys.PassFunc {
	return func() ([]byte, error) { return []byte(pw), nil }
}

// keyPair writes a fresh cosign-format key pair into a temporary directory.
func keyPair(t *testing.T) (priv, pub string, kp *keys.KeyPair) {
	t.Helper()
	kp, err := keys.GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(priv, kp.PrivatePEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, kp.PublicPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub, kp
}

// encryptedPEM encrypts any PKCS #8 key in cosign's format, to make keys
// cosign would load but stella must refuse.
func encryptedPEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(der, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc})
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeyReferences(t *testing.T) {
	ctx := context.Background()
	priv, pub, kp := keyPair(t)
	t.Setenv("STELLA_TEST_KEY_PEM", string(kp.PrivatePEM))
	t.Setenv("STELLA_TEST_KEY_B64", base64.StdEncoding.EncodeToString(kp.PrivatePEM))
	wrapped := base64.StdEncoding.EncodeToString(kp.PrivatePEM)
	for i := 64; i < len(wrapped); i += 65 {
		wrapped = wrapped[:i] + "\n" + wrapped[i:]
	}
	t.Setenv("STELLA_TEST_KEY_B64_WRAPPED", wrapped+"\n")
	t.Setenv("STELLA_TEST_PUB_B64", base64.StdEncoding.EncodeToString(kp.PublicPEM))
	verifiers, err := keys.LoadVerifiers(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	envVerifiers, err := keys.LoadVerifiers(ctx, "env://STELLA_TEST_PUB_B64")
	if err != nil || envVerifiers[0].KeyID() != kp.KeyID {
		t.Fatalf("env:// public key: %v", err)
	}
	for _, ref := range []string{priv, "env://STELLA_TEST_KEY_PEM", "env://STELLA_TEST_KEY_B64", "env://STELLA_TEST_KEY_B64_WRAPPED"} {
		t.Run(ref, func(t *testing.T) {
			s, err := keys.LoadSigner(ctx, ref, pass(password))
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != kp.KeyID || verifiers[0].KeyID() != kp.KeyID {
				t.Fatalf("key ids %s %s, want %s", s.KeyID(), verifiers[0].KeyID(), kp.KeyID)
			}
			sig, err := s.Sign(ctx, []byte("message"))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifiers[0].Verify(ctx, []byte("message"), sig); err != nil {
				t.Fatal(err)
			}
			if err := verifiers[0].Verify(ctx, []byte("messagE"), sig); !errors.Is(err, errdef.ErrSignature) {
				t.Fatalf("altered message: %v", err)
			}
		})
	}
}

func TestKeyIDIsSHA256OfDER(t *testing.T) {
	_, _, kp := keyPair(t)
	block, _ := pem.Decode(kp.PublicPEM)
	sum := sha256.Sum256(block.Bytes)
	if want := "sha256:" + hex.EncodeToString(sum[:]); kp.KeyID != want {
		t.Fatalf("KeyID %s, want %s", kp.KeyID, want)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	ctx := context.Background()
	priv, pub, kp := keyPair(t)
	_, _, other := keyPair(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	t.Setenv("STELLA_TEST_GARBAGE", "not a key at all")
	t.Setenv("STELLA_TEST_EMPTY", " \n")
	noPass := func() ([]byte, error) {
		return nil, errors.New("no terminal: " + errdef.ErrUsage.Error())
	}
	tests := []struct {
		name    string
		ref     string
		pass    keys.PassFunc
		wantErr error
		wantMsg string
	}{
		{"wrong password", priv, pass("wrong"), errdef.ErrUsage, "wrong password"},
		// COSIGN_PASSWORD: ${{ secrets.X }} with no such secret is set,
		// empty: "wrong password?" sent operators to check a password
		// that was never passed.
		{"empty password", priv, pass(""), errdef.ErrUsage, "the password given is empty: is COSIGN_PASSWORD set but empty"},
		{"no password source", priv, nil, errdef.ErrUsage, "no password"},
		{"password source fails", priv, noPass, nil, "no terminal"},
		{"missing file", filepath.Join(t.TempDir(), "nope.key"), pass(password), errdef.ErrNotFound, "no such file"},
		{"unreadable (a directory)", t.TempDir(), pass(password), errdef.ErrUsage, "cannot read"},
		{"unset variable", "env://STELLA_TEST_UNSET", pass(password), errdef.ErrNotFound, "not set"},
		// COSIGN_PRIVATE_KEY: ${{ secrets.X }} with no such secret is
		// set, empty: "is not set" sent operators to export a variable
		// that was exported.
		{"empty variable", "env://STELLA_TEST_EMPTY", pass(password), errdef.ErrNotFound, `environment variable "STELLA_TEST_EMPTY" is set but empty`},
		{"variable not a key", "env://STELLA_TEST_GARBAGE", pass(password), errdef.ErrUsage, "neither a PEM key"},
		{"public key", pub, pass(password), errdef.ErrUsage, "is a public key"},
		{"unencrypted EC key", writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})), pass(password), errdef.ErrUsage, "unencrypted"},
		{"RSA key", writeFile(t, encryptedPEM(t, rsaKey)), pass(password), errdef.ErrUsage, "is RSA, not ECDSA"},
		{"Ed25519 key", writeFile(t, encryptedPEM(t, edKey)), pass(password), errdef.ErrUsage, "is Ed25519, not ECDSA"},
		{"P-384 key", writeFile(t, encryptedPEM(t, p384)), pass(password), errdef.ErrUsage, "P-384"},
		{"not PEM", writeFile(t, []byte("hello")), pass(password), errdef.ErrUsage, "not a PEM key"},
		// Two files concatenated where one key was meant (two signers'
		// keys, a key and its public key): it signed with the first
		// block, the rest passed over, whichever key that was.
		{"two keys in one file", writeFile(t, append(slices.Clip(kp.PrivatePEM), other.PrivatePEM...)), pass(password), errdef.ErrUsage, "holds 2 PEM blocks (ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED SIGSTORE PRIVATE KEY), where a private key file holds one key"},
		{"a key and its public key in one file", writeFile(t, append(slices.Clip(kp.PrivatePEM), kp.PublicPEM...)), pass(password), errdef.ErrUsage, "holds 2 PEM blocks (ENCRYPTED SIGSTORE PRIVATE KEY, PUBLIC KEY)"},
		{"KMS not built in", "awskms:///arn:aws:kms:eu-west-1:1:key/x", nil, errdef.ErrUsage, "not built into stella"},
		{"unknown scheme", "foo://bar", nil, errdef.ErrUsage, "unknown scheme"},
		// A URL with credentials in it: they were echoed with the rest.
		{"URL with a password", "https://ci:" + password + "@keys.example/cosign.key", nil, errdef.ErrUsage, "https://***@keys.example/cosign.key: unknown scheme"},
		{"KMS not built in, with a password", "awskms://ci:" + password + "@localhost:4566/alias/x", nil, errdef.ErrUsage, "awskms://***@localhost:4566/alias/x: the awskms:// scheme is not built into stella"},
		// A password holding a "/", as tokens and generated passwords
		// do, typed as is: the credentials were looked for before the
		// first "/" only, and the reference echoed whole.
		{"URL with a password holding a slash", "https://ci:a/" + password + "@keys.example/cosign.key", nil, errdef.ErrUsage, "https://***@keys.example/cosign.key: unknown scheme"},
		{"empty", "", nil, errdef.ErrUsage, "empty key reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := keys.LoadSigner(ctx, tt.ref, tt.pass)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not say %q", msg, tt.wantMsg)
			}
			assertNoSecret(t, msg, kp.PrivatePEM)
		})
	}
}

// assertNoSecret fails if text holds the password or any line of a
// private key's PEM body.
func assertNoSecret(t *testing.T, text string, privatePEM []byte) {
	t.Helper()
	if strings.Contains(text, password) {
		t.Fatalf("the password appears in %q", text)
	}
	for _, line := range strings.Split(string(privatePEM), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
			t.Fatalf("private key material appears in %q", text)
		}
	}
}

func TestLoadVerifiers(t *testing.T) {
	ctx := context.Background()
	_, pub1, kp1 := keyPair(t)
	_, _, kp2 := keyPair(t)
	both := writeFile(t, append(append([]byte{}, kp1.PublicPEM...), kp2.PublicPEM...))
	vs, err := keys.LoadVerifiers(ctx, both)
	if err != nil || len(vs) != 2 || vs[0].KeyID() != kp1.KeyID || vs[1].KeyID() != kp2.KeyID {
		t.Fatalf("two keys in one file: %v %v", vs, err)
	}
	if _, err := keys.LoadVerifiers(ctx, pub1); err != nil {
		t.Fatal(err)
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(edPub)
	pubPEM := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	bad := map[string]string{
		"private key": writeFile(t, kp1.PrivatePEM),
		"RSA 1024":    pubPEM(&rsa1024.PublicKey),
		"a CA certificate, which is for --trust-root": testutil.WritePEM(t, t.TempDir(), "root.pem", testutil.NewRootCA(t, "Root").Cert),
		"P-224":         pubPEM(&p224.PublicKey),
		"Ed25519":       writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"empty":         writeFile(t, nil),
		"corrupted DER": writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der[:10]})),
	}
	for name, p := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := keys.LoadVerifiers(ctx, p)
			if !errors.Is(err, errdef.ErrUsage) {
				t.Fatalf("err = %v, want ErrUsage", err)
			}
			assertNoSecret(t, err.Error(), kp1.PrivatePEM)
		})
	}
	// A certificate given as a key says where it belongs.
	if _, err := keys.LoadVerifiers(ctx, bad["a CA certificate, which is for --trust-root"]); err == nil || !strings.Contains(err.Error(), "--trust-root") {
		t.Errorf("a certificate as --key: %v, want it to point at --trust-root", err)
	}
}
