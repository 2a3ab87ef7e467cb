package keys_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// A PEM block that does not decode (its base64 damaged, its END line cut
// off) is refused, not skipped: encoding/pem passes over it to the next
// block, so a keyring or a root CA file missing one of its keys read as
// holding one key less, and the signatures of the key lost failed as
// "untrusted" or a threshold "exceeds the distinct keys --key gives".
func TestPEMBlockThatDoesNotDecodeIsRefused(t *testing.T) {
	ctx := context.Background()
	_, _, kp1 := keyPair(t)
	_, _, kp2 := keyPair(t)
	damaged := strings.Replace(string(kp2.PublicPEM), "\n", "\n!", 2)
	cut := string(kp2.PublicPEM[:len(kp2.PublicPEM)-30])
	for name, second := range map[string]string{"bad base64": damaged, "no END line": cut} {
		t.Run("key "+name, func(t *testing.T) {
			for _, data := range []string{string(kp1.PublicPEM) + second, second + string(kp1.PublicPEM)} {
				vs, err := keys.LoadVerifiers(ctx, writeFile(t, []byte(data)))
				if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "does not decode") {
					t.Fatalf("a keyring with a damaged key: %d keys, err = %v, want ErrUsage naming the block", len(vs), err)
				}
			}
		})
	}
	root := testutil.NewRootCA(t, "root")
	other := testutil.NewRootCA(t, "other")
	dir := t.TempDir()
	good := testutil.WritePEM(t, dir, "good.pem", root.Cert)
	otherPEM := testutil.WritePEM(t, dir, "other.pem", other.Cert)
	goodData, _ := os.ReadFile(good)
	otherData, _ := os.ReadFile(otherPEM)
	broken := string(goodData) + strings.Replace(string(otherData), "\n", "\n!", 2)
	if certs, err := keys.ParseCertificates([]byte(broken)); !errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("certificates with a damaged one: %d, err = %v, want ErrMalformed", len(certs), err)
	}
	if _, err := keys.LoadRoots([]string{writeFile(t, []byte(broken))}); !errors.Is(err, errdef.ErrUsage) {
		t.Fatalf("trust roots with a damaged one: err = %v, want ErrUsage", err)
	}
	// Text around the blocks (openssl's "subject=" lines) is not a block.
	withText := "subject=CN = root\n" + string(goodData) + "trailing words\n" + string(otherData)
	if certs, err := keys.ParseCertificates([]byte(withText)); err != nil || len(certs) != 2 {
		t.Fatalf("certificates with text between: %d, %v", len(certs), err)
	}
}

// A key or certificate file that starts with a UTF-8 byte order mark (an
// editor on Windows saving it as "UTF-8 with BOM") is refused, as cosign
// refuses it (its BEGIN line no longer starts the file), but the refusal
// named nothing the operator could see in the file: "not a PEM key", "no
// PEM public key", "no PEM certificate". It now says what is there.
func TestByteOrderMarkNamed(t *testing.T) {
	ctx := context.Background()
	_, _, kp := keyPair(t)
	bom := func(data []byte) []byte { return append([]byte("\xEF\xBB\xBF"), data...) }
	rootPEM := rootCAPEM(t)
	t.Setenv("STELLA_TEST_BOM_KEY", string(bom(kp.PrivatePEM)))
	privFile, pubFile, rootBOM := writeFile(t, bom(kp.PrivatePEM)), writeFile(t, bom(kp.PublicPEM)), writeFile(t, bom(rootPEM))
	// The base64 of such a file (COSIGN_PRIVATE_KEY_B64 made from it):
	// it was refused as holding "neither a PEM key nor the base64 of
	// one" (found by review).
	t.Setenv("STELLA_TEST_BOM_KEY_B64", base64.StdEncoding.EncodeToString(bom(kp.PrivatePEM)))
	t.Setenv("STELLA_TEST_BOM_PUB_B64", base64.StdEncoding.EncodeToString(bom(kp.PublicPEM)))
	for name, load := range map[string]func() (string, error){
		"private key": func() (string, error) { _, err := keys.LoadSigner(ctx, privFile, pass(password)); return privFile, err },
		"env": func() (string, error) {
			_, err := keys.LoadSigner(ctx, "env://STELLA_TEST_BOM_KEY", pass(password))
			return "env://STELLA_TEST_BOM_KEY", err
		},
		"public key": func() (string, error) { _, err := keys.LoadVerifiers(ctx, pubFile); return pubFile, err },
		"env base64": func() (string, error) {
			_, err := keys.LoadSigner(ctx, "env://STELLA_TEST_BOM_KEY_B64", pass(password))
			return "env://STELLA_TEST_BOM_KEY_B64", err
		},
		"env base64 public key": func() (string, error) {
			_, err := keys.LoadVerifiers(ctx, "env://STELLA_TEST_BOM_PUB_B64")
			return "env://STELLA_TEST_BOM_PUB_B64", err
		},
		"trust root": func() (string, error) { _, err := keys.LoadRoots([]string{rootBOM}); return rootBOM, err },
	} {
		ref, err := load()
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), ref+": ") || !strings.Contains(err.Error(), "starts with a UTF-8 byte order mark") {
			t.Errorf("%s: err = %v, want a usage error naming %s and its byte order mark", name, err, ref)
		}
	}
}

// TestByteOrderMarkBeforeTextTaken: a file whose byte order mark comes
// before text ahead of its first block, as openssl pkcs12 writes "Bag
// Attributes" and "subject=" lines, saved by PowerShell's Out-File
// -Encoding utf8, was read (every BEGIN line starts a line), and was
// refused as one that starts with a byte order mark since f73e728: only
// a mark right before the first BEGIN line hides a block (found by
// review).
func TestByteOrderMarkBeforeTextTaken(t *testing.T) {
	ctx := context.Background()
	_, _, kp := keyPair(t)
	rootPEM := rootCAPEM(t)
	text := func(data []byte) []byte {
		return append([]byte("\xEF\xBB\xBFBag Attributes\n    friendlyName: Root CA\nsubject=CN=Root CA\n"), data...)
	}
	privFile, pubFile, rootFile := writeFile(t, text(kp.PrivatePEM)), writeFile(t, text(kp.PublicPEM)), writeFile(t, text(rootPEM))
	if _, err := keys.LoadSigner(ctx, privFile, pass(password)); err != nil {
		t.Errorf("private key: %v", err)
	}
	if vs, err := keys.LoadVerifiers(ctx, pubFile); err != nil || len(vs) != 1 {
		t.Errorf("public key: %d keys, %v", len(vs), err)
	}
	if roots, err := keys.LoadRoots([]string{rootFile}); err != nil || len(roots) != 1 {
		t.Errorf("trust root: %d roots, %v", len(roots), err)
	}
}

// TestUTF16Named: a key or certificate file written as UTF-16 text, as
// Windows PowerShell's > and Out-File write by default (`cosign public-key
// > cosign.pub`), looks right in an editor and holds no PEM block a reader
// finds; it was refused as "not a PEM key", "no PEM public key" or "no
// PEM certificate". It is now refused saying what it is (found by
// review), and so is the base64 of such a file in an env:// variable
// (`[Convert]::ToBase64String([IO.File]::ReadAllBytes("cosign.key"))`),
// which was "neither a PEM key nor the base64 of one".
func TestUTF16Named(t *testing.T) {
	ctx := context.Background()
	_, _, kp := keyPair(t)
	rootPEM := rootCAPEM(t)
	for _, big := range []bool{false, true} {
		privFile, pubFile, rootFile := writeFile(t, testutil.UTF16Text(kp.PrivatePEM, big)), writeFile(t, testutil.UTF16Text(kp.PublicPEM, big)), writeFile(t, testutil.UTF16Text(rootPEM, big))
		for name, load := range map[string]func() (string, error){
			"private key": func() (string, error) { _, err := keys.LoadSigner(ctx, privFile, pass(password)); return privFile, err },
			"public key":  func() (string, error) { _, err := keys.LoadVerifiers(ctx, pubFile); return pubFile, err },
			"trust root":  func() (string, error) { _, err := keys.LoadRoots([]string{rootFile}); return rootFile, err },
		} {
			ref, err := load()
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), ref+": is UTF-16 text") {
				t.Errorf("%s (big-endian %v): err = %v, want a usage error naming %s as UTF-16 text", name, big, err, ref)
			}
		}
		t.Setenv("STELLA_TEST_UTF16_KEY", base64.StdEncoding.EncodeToString(testutil.UTF16Text(kp.PrivatePEM, big)))
		_, err := keys.LoadSigner(ctx, "env://STELLA_TEST_UTF16_KEY", pass(password))
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "env://STELLA_TEST_UTF16_KEY: the variable holds the base64 of UTF-16 text") {
			t.Errorf("env:// (big-endian %v): err = %v, want a usage error naming the variable's base64 as UTF-16 text", big, err)
		}
	}
}

// rootCAPEM is the PEM of a new root CA's certificate.
func rootCAPEM(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(testutil.WritePEM(t, t.TempDir(), "root.pem", testutil.NewRootCA(t, "Root CA").Cert))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
