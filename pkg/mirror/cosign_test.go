package mirror_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

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
	t.Parallel()
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

// cosign sign --recursive (OCI 1.1 referrers) signs a multi-platform
// image's index and each platform's manifest. After create, sign and
// import, cosign verify finds every one of those signatures on the far
// side, with the referrers API and with fallback tags (distribution):
// create used to carry the index's signature only.
func TestCosignRecursiveSignaturesCrossTheGap(t *testing.T) {
	t.Parallel()
	run := cosignRunner(t)
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/multi"}
	idx, amd, arm := r.twoPlatforms()
	priv, pub := testKeys(t, "signer")
	if err := run("sign", "--key", priv, "--allow-insecure-registry", "--allow-http-registry", "--tlog-upload=false",
		"--recursive", "--registry-referrers-mode=oci-1-1", src+"/"+r.name+"@"+idx.Digest.String()); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, priv)
	for name, target := range map[string]func(testing.TB) string{"referrers API": testutil.Registry, "distribution": testutil.Distribution} {
		t.Run(name, func(t *testing.T) {
			dst := target(t)
			if _, err := mirror.Import(ctx, importOpts(t, dir, dst, pub)); err != nil {
				t.Fatal(err)
			}
			for _, d := range []digest.Digest{idx.Digest, amd.Digest, arm.Digest} {
				if err := run("verify", "--key", pub, "--allow-insecure-registry", "--allow-http-registry", "--insecure-ignore-tlog",
					"--experimental-oci11", dst+"/"+r.name+"@"+d.String()); err != nil {
					t.Errorf("%s: %v", d, err)
				}
			}
		})
	}
}
