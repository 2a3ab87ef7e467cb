package mirror_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCoSignOverDamagedSignatureRefused: the second signer of a two-person
// bundle adds a signature beside the first one in manifest.dsse. Where the
// first was damaged (a flipped bit on the way, an edit), sign used to keep
// it unchecked, say "2 signature(s)" and exit 0, pack packed it, and only
// the far side's verify --threshold 2 found out. The operator now meets
// exit 5 from sign, naming the key of the signature that does not verify,
// with the bundle left as it was; the first signer signing again replaces
// the damaged signature, and the second then signs. A signature whose key
// public-key.pem does not hold (sign writes every signer's key there, a
// KMS key's too) cannot be checked, and is refused the same way.
func TestCoSignOverDamagedSignatureRefused(t *testing.T) {
	dir := newBundle(t)
	engineer, engineerPub := testKeys(t, "engineer")
	authority, authorityPub := testKeys(t, "authority")
	first := sign(t, dir, engineer)
	envPath := filepath.Join(dir, "manifest.dsse")
	damageSignature(t, envPath)
	before := readTree(t, dir)

	coSign := func(key string) (*mirror.SignResult, error) {
		return mirror.Sign(context.Background(), mirror.SignOptions{
			Manifest: filepath.Join(dir, "manifest.json"), Output: envPath,
			Key: key, Password: testPass, Created: fixedTime,
		})
	}
	_, err := coSign(authority)
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), first.KeyID) || !strings.Contains(err.Error(), envPath) {
		t.Fatalf("co-signing over a damaged signature: %v; want exit 5 naming %s and key %s", err, envPath, first.KeyID)
	}
	if after := readTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("a refused co-signing changed the bundle")
	}

	// Its signer signing again replaces it; then the co-signing passes.
	sign(t, dir, engineer)
	if res := sign(t, dir, authority); res.Signatures != 2 {
		t.Fatalf("co-signing over a sound signature: %d signatures, want 2", res.Signatures)
	}
	if _, err := verify(dir, mirror.TrustOptions{Keys: []string{engineerPub, authorityPub}, Threshold: 2}); err != nil {
		t.Fatal(err)
	}

	// public-key.pem without the first signer's key: nothing to check
	// its signature with.
	_, otherPub := testKeys(t, "other")
	other, err := os.ReadFile(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "public-key.pem"), string(other))
	third, _ := testKeys(t, "third")
	if _, err := coSign(third); !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "public-key.pem") {
		t.Errorf("co-signing over signatures public-key.pem holds no key of: %v", err)
	}
}

// damageSignature changes one byte in the middle of the first signature of
// the envelope at path, which still parses.
func damageSignature(t *testing.T, path string) {
	t.Helper()
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCoSignOverDamagedPublicKeyFile: a PEM block of the bundle's own
// public-key.pem damaged (a flipped byte, cut short) dropped every key of
// it, so co-signing said the file "holds no key of that id, though sign
// writes every signer's there", blaming the signature. It now names the
// file and the block, and leaves the bundle as it was: exit 11
// (malformed), as pack, push and verify say of such a file, and sign of
// a damaged certificate file; it said exit 5, a signature failure.
func TestCoSignOverDamagedPublicKeyFile(t *testing.T) {
	dir := newBundle(t)
	engineer, _ := testKeys(t, "engineer")
	authority, _ := testKeys(t, "authority")
	third, _ := testKeys(t, "third")
	sign(t, dir, engineer)
	sign(t, dir, authority)
	pubPath := filepath.Join(dir, "public-key.pem")
	pem := string(readFile(t, pubPath))
	// Block 2 (the engineer's) cut short before its END line.
	second := strings.LastIndex(pem, "-----BEGIN ")
	end := strings.LastIndex(pem, "-----END ")
	if second <= 0 || end < second {
		t.Fatalf("public-key.pem holds one block: %q", pem)
	}
	writeFile(t, pubPath, pem[:end])
	before := readTree(t, dir)
	envPath := filepath.Join(dir, "manifest.dsse")
	_, err := mirror.Sign(context.Background(), mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: envPath,
		Key: third, Password: testPass, Created: fixedTime,
	})
	if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), pubPath) || !strings.Contains(err.Error(), "PEM block 2") {
		t.Fatalf("co-signing beside a damaged public-key.pem: %v; want exit 11 naming %s and its PEM block 2", err, pubPath)
	}
	if strings.Contains(err.Error(), "holds no key") {
		t.Errorf("co-signing beside a damaged public-key.pem: %q blames the signature", err)
	}
	if after := readTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("a refused co-signing changed the bundle")
	}
}

// TestCoSignOverDamagedCertificateFile: a PEM block of the bundle's
// certificate.pem damaged dropped, at the next signer's sign, every
// earlier signer's certificate: sign wrote certificate.pem with the new
// signer's alone, exit 0, and verify --trust-root then no longer counted
// the first signer (1 of 2 signatures). It is now refused naming the file
// and the block, and the bundle is left as it was.
func TestCoSignOverDamagedCertificateFile(t *testing.T) {
	dir := newBundle(t)
	ca := testutil.NewRootCA(t, "StellaOps Root CA")
	pki := t.TempDir()
	engineer, _ := testKeys(t, "engineer")
	authority, _ := testKeys(t, "authority")
	engineerCert := testutil.WritePEM(t, pki, "engineer.pem", ca.Leaf(t, "engineer", signerPub(t, engineer), testutil.LeafOptions{}))
	authorityCert := testutil.WritePEM(t, pki, "authority.pem", ca.Leaf(t, "authority", signerPub(t, authority), testutil.LeafOptions{}))
	sign(t, dir, engineer, func(o *mirror.SignOptions) { o.Certificate = engineerCert })
	certPath := filepath.Join(dir, "certificate.pem")
	pem := string(readFile(t, certPath))
	writeFile(t, certPath, pem[:strings.LastIndex(pem, "-----END ")])
	before := readTree(t, dir)
	_, err := mirror.Sign(context.Background(), mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
		Key: authority, Password: testPass, Created: fixedTime, Certificate: authorityCert,
	})
	if err == nil || !strings.Contains(err.Error(), "certificate.pem") || !strings.Contains(err.Error(), "PEM block 1") {
		t.Fatalf("co-signing beside a damaged certificate.pem: %v; want an error naming certificate.pem and its PEM block 1", err)
	}
	if after := readTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("a refused co-signing changed the bundle")
	}
}
