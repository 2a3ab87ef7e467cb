package mirror_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// cosign runs the real cosign binary with COSIGN_PASSWORD set.
func cosign(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+testPassword, "COSIGN_YES=true")
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Keys and signatures interoperate with cosign both ways.
func TestCosignInterop(t *testing.T) {
	bin := testutil.CosignBinary(t)
	ctx := context.Background()

	t.Run("stella keygen key signs with cosign sign-blob", func(t *testing.T) {
		priv, pub := testKeys(t, "stella")
		blob := filepath.Join(t.TempDir(), "blob")
		writeFile(t, blob, "hello")
		sig := blob + ".sig"
		cosign(t, bin, "sign-blob", "--key", priv, "--tlog-upload=false", "--output-signature", sig, blob)
		cosign(t, bin, "verify-blob", "--key", pub, "--signature", sig, "--insecure-ignore-tlog", blob)
	})

	t.Run("cosign generate-key-pair key signs with stella", func(t *testing.T) {
		dir := t.TempDir()
		cosign(t, bin, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
		manifest := filepath.Join(dir, "manifest.json")
		writeFile(t, manifest, `{"hello":"world"}`+"\n")
		res, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: manifest, Key: filepath.Join(dir, "cosign.key"), Password: testPass})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: res.Envelope, Trust: trustKeys(filepath.Join(dir, "cosign.pub"))}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cosign verify-blob accepts SHA256SUMS.sig", func(t *testing.T) {
		dir := newBundle(t)
		engineer, _ := testKeys(t, "engineer")
		authority, _ := testKeys(t, "authority")
		sign(t, dir, engineer)
		sign(t, dir, authority) // two signers: the last one's key leads public-key.pem
		cosign(t, bin, "verify-blob", "--key", filepath.Join(dir, "public-key.pem"),
			"--signature", filepath.Join(dir, "SHA256SUMS.sig"), "--insecure-ignore-tlog", filepath.Join(dir, "SHA256SUMS"))
	})
}
