package mirror_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

const testPassword = "test-password"

func testPass() ([]byte, error) { return []byte(testPassword), nil }

// newBundle creates a real bundle from the sample release in an in-process
// registry.
func newBundle(t *testing.T) string {
	t.Helper()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
		t.Fatal(err)
	}
	return out
}

// copyBundle copies a bundle directory file by file (hard links broken, so
// that tampering with one copy leaves the other intact).
func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "bundle")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, _ := e.Info()
		return os.WriteFile(target, data, st.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func sign(t testing.TB, dir, key string, extra ...func(*mirror.SignOptions)) *mirror.SignResult {
	t.Helper()
	opts := mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
		Key: key, Password: testPass, Created: fixedTime,
	}
	for _, f := range extra {
		f(&opts)
	}
	res, err := mirror.Sign(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func verify(dir string, trust mirror.TrustOptions) (*mirror.VerifyResult, error) {
	return mirror.Verify(context.Background(), mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trust})
}

func trustKeys(pubs ...string) mirror.TrustOptions { return mirror.TrustOptions{Keys: pubs} }

func TestSignAndVerifyBundle(t *testing.T) {
	ctx := context.Background()
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	res := sign(t, dir, priv)
	if res.Bundle == nil || res.Signatures != 1 {
		t.Fatalf("sign result %+v", res)
	}
	vres, err := verify(dir, trustKeys(pub))
	if err != nil {
		t.Fatal(err)
	}
	if vres.Content == nil || vres.Content.Blobs == 0 || len(vres.Signature.Signers) != 1 || vres.Signature.Signers[0].KeyID != res.KeyID {
		t.Fatalf("verify result %+v", vres)
	}
	// The envelope is exactly the plan's: payload = manifest.json's bytes.
	envData, _ := os.ReadFile(filepath.Join(dir, "manifest.dsse"))
	manifest, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	env, err := dsse.Parse(envData)
	if err != nil || env.PayloadType != bundle.PayloadType || !bytes.Equal(env.Payload, manifest) {
		t.Fatalf("envelope: %v %q", err, env.PayloadType)
	}
	// The envelope is a referrer of the root, as any OCI tool finds it.
	store, err := oci.NewFromFS(ctx, os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	preds, err := registry.Referrers(ctx, store, res.Bundle.Root, bundle.ArtifactTypeDSSE)
	if err != nil || len(preds) != 1 || preds[0].Digest != res.Bundle.Referrer.Digest {
		t.Fatalf("referrers of the root: %v %+v", err, preds)
	}
	// public-key.pem is the signer's key; SHA256SUMS.sig verifies with it.
	pubPEM, _ := os.ReadFile(filepath.Join(dir, "public-key.pem"))
	want, _ := os.ReadFile(pub)
	if !bytes.Equal(pubPEM, want) {
		t.Fatalf("public-key.pem:\n%s\nwant\n%s", pubPEM, want)
	}
	if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)}); err != nil {
		t.Fatal(err)
	}
	assertSignedLayout(t, dir)
}

// assertSignedLayout checks that oras-go still reads the signed layout.
func assertSignedLayout(t *testing.T, dir string) {
	t.Helper()
	store, err := oci.NewFromFS(context.Background(), os.DirFS(dir))
	if err != nil {
		t.Fatalf("oras-go cannot open the signed layout: %v", err)
	}
	var idx ocispec.Index
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if ok, err := store.Exists(context.Background(), d); !ok || err != nil {
			t.Errorf("index.json entry %s missing: %v", d.Digest, err)
		}
	}
}

func TestSignTwoPersonThreshold(t *testing.T) {
	dir := newBundle(t)
	engineer, engineerPub := testKeys(t, "engineer")
	authority, authorityPub := testKeys(t, "authority")
	_, otherPub := testKeys(t, "other")
	sign(t, dir, engineer)
	if res := sign(t, dir, authority); res.Signatures != 2 {
		t.Fatalf("second signature: %d signatures", res.Signatures)
	}
	both := filepath.Join(t.TempDir(), "both.pem")
	writeFile(t, both, string(readFile(t, filepath.Join(dir, "public-key.pem"))))
	tests := []struct {
		name    string
		trust   mirror.TrustOptions
		wantErr error
	}{
		{"both keys, threshold 2", mirror.TrustOptions{Keys: []string{engineerPub, authorityPub}, Threshold: 2}, nil},
		{"either key, threshold 1", trustKeys(authorityPub), nil},
		{"one key, threshold 2", mirror.TrustOptions{Keys: []string{engineerPub}, Threshold: 2}, errdef.ErrUsage},
		{"one signer and a stranger, threshold 2", mirror.TrustOptions{Keys: []string{engineerPub, otherPub}, Threshold: 2}, errdef.ErrSignature},
		{"same key twice, threshold 2", mirror.TrustOptions{Keys: []string{engineerPub, engineerPub}, Threshold: 2}, errdef.ErrUsage},
		// A copy: the bundle's own file is refused as a trusted key.
		{"a file holding both", mirror.TrustOptions{Keys: []string{both}, Threshold: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(dir, tt.trust)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// SHA256SUMS.sig is the last signer's, whose key leads public-key.pem.
	if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(authorityPub)}); err != nil {
		t.Fatal(err)
	}
	pubs, _ := os.ReadFile(filepath.Join(dir, "public-key.pem"))
	first, _ := os.ReadFile(authorityPub)
	if !bytes.HasPrefix(pubs, first) || bytes.Count(pubs, []byte("BEGIN PUBLIC KEY")) != 2 {
		t.Fatalf("public-key.pem:\n%s", pubs)
	}
}

// Signing again replaces the referrer: one referrer, no stray blob, and
// the bundle still verifies deeply.
func TestResignReplacesReferrer(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	first := sign(t, dir, priv)
	second := sign(t, dir, priv)
	if first.Bundle.Referrer.Digest == second.Bundle.Referrer.Digest || second.Signatures != 1 {
		t.Fatalf("referrers %s %s, %d signatures", first.Bundle.Referrer.Digest, second.Bundle.Referrer.Digest, second.Signatures)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", first.Bundle.Referrer.Digest.Encoded())); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old referrer blob still there: %v", err)
	}
	if _, err := verify(dir, trustKeys(pub)); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)}); err != nil {
		t.Fatal(err)
	}
}

// Signing fails closed: a bundle that does not verify is not signed.
func TestSignRefusesBrokenBundle(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	tamperBlob(t, dir)
	_, err := mirror.Sign(context.Background(), mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"), Key: priv, Password: testPass,
	})
	if !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.dsse")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("an envelope was written for a broken bundle")
	}
}

// tamperBlob flips a byte of the largest blob (an image layer).
func tamperBlob(t *testing.T, dir string) string {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	var largest string
	var size int64
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > size {
			largest, size = b, st.Size()
		}
	}
	flipByte(t, largest, int(size/2))
	return largest
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// corruptLayers inverts one byte three quarters into the archive at path:
// in its layers, past the head import and verify read first.
func corruptLayers(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)*3/4] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// corruptContent inverts one byte of the compressed archive at path where
// it carries content (a layer's bytes, which pack's codecs store as they
// are, being incompressible): the frame holding them no longer checks out.
func corruptContent(t *testing.T, path string, content []byte) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(content) / 2
	at := bytes.Index(data, content[mid:mid+64])
	if at < 0 || len(content) < 256 {
		t.Fatalf("%s: the content is not stored as it is", path)
	}
	data[at+10] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rewriteEnvelope changes the signed envelope in place.
func rewriteEnvelope(t *testing.T, dir string, change func(*dsse.Envelope)) {
	t.Helper()
	p := filepath.Join(dir, "manifest.dsse")
	data, _ := os.ReadFile(p)
	env, err := dsse.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	change(env)
	out, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyTampering(t *testing.T) {
	signed := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	_, otherPub := testKeys(t, "other")
	sign(t, signed, priv)
	tests := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		trust   mirror.TrustOptions
		wantErr error
	}{
		{"untouched", func(*testing.T, string) {}, trustKeys(pub), nil},
		{"payload byte", func(t *testing.T, d string) { rewriteEnvelope(t, d, func(e *dsse.Envelope) { e.Payload[20] ^= 0x01 }) }, trustKeys(pub), errdef.ErrSignature},
		{"signature byte", func(t *testing.T, d string) {
			rewriteEnvelope(t, d, func(e *dsse.Envelope) { e.Signatures[0].Sig[8] ^= 0x01 })
		}, trustKeys(pub), errdef.ErrSignature},
		{"keyid byte", func(t *testing.T, d string) {
			rewriteEnvelope(t, d, func(e *dsse.Envelope) { e.Signatures[0].KeyID = e.Signatures[0].KeyID[:70] + "x" })
		}, trustKeys(pub), errdef.ErrSignature},
		{"payloadType", func(t *testing.T, d string) {
			rewriteEnvelope(t, d, func(e *dsse.Envelope) { e.PayloadType = "application/vnd.in-toto+json" })
		}, trustKeys(pub), errdef.ErrSignature},
		{"envelope not JSON", func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "manifest.dsse"), "garbage") }, trustKeys(pub), errdef.ErrMalformed},
		{"manifest.dsse missing", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "manifest.dsse")) }, trustKeys(pub), errdef.ErrSignature},
		{"manifest.json byte", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "manifest.json"), 30) }, trustKeys(pub), errdef.ErrSignature},
		{"manifest.json one character", func(t *testing.T, d string) {
			p := filepath.Join(d, "manifest.json")
			data, _ := os.ReadFile(p)
			writeFile(t, p, strings.Replace(string(data), `"schemaVersion": 1`, `"schemaVersion": 2`, 1))
		}, trustKeys(pub), errdef.ErrSignature},
		{"layer blob byte", func(t *testing.T, d string) { tamperBlob(t, d) }, trustKeys(pub), errdef.ErrDigestMismatch},
		{"advisory file byte", func(t *testing.T, d string) {
			files, _ := filepath.Glob(filepath.Join(d, "advisories", "*"))
			flipByte(t, files[0], 5)
		}, trustKeys(pub), errdef.ErrDigestMismatch},
		{"script byte", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "scripts", "load.sh"), 3) }, trustKeys(pub), errdef.ErrDigestMismatch},
		{"blob missing", func(t *testing.T, d string) { os.Remove(tamperBlob(t, d)) }, trustKeys(pub), errdef.ErrDigestMismatch},
		{"stray blob", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "blobs", "sha256", strings.Repeat("ab", 32)), "x")
		}, trustKeys(pub), errdef.ErrMalformed},
		{"another key", func(*testing.T, string) {}, trustKeys(otherPub), errdef.ErrSignature},
		{"nobody trusted", func(*testing.T, string) {}, mirror.TrustOptions{}, errdef.ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, signed)
			tt.tamper(t, dir)
			_, err := verify(dir, tt.trust)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("signature-only skips the walk", func(t *testing.T) {
		dir := copyBundle(t, signed)
		tamperBlob(t, dir)
		res, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: dir, Trust: trustKeys(pub), SignatureOnly: true})
		if err != nil || res.Content != nil {
			t.Fatalf("%v %+v", err, res)
		}
	})
	// An expired bundle is refused as import and serve refuse it (exit 3),
	// unless allowed.
	expired := fixedTime.Add(mirror.DefaultValidFor + time.Second)
	_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: expired, Envelope: signed, Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrExpired) || !strings.Contains(err.Error(), "--allow-expired") {
		t.Errorf("expired: err = %v", err)
	}
	if _, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: expired, Envelope: signed, Trust: trustKeys(pub), AllowExpired: true}); err != nil {
		t.Errorf("expired but allowed: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyChecksums(t *testing.T) {
	signed := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	_, otherPub := testKeys(t, "other")
	sign(t, signed, priv)
	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		trust    mirror.TrustOptions
		wantErr  error
		wantName string
	}{
		{"untouched", func(*testing.T, string) {}, trustKeys(pub), nil, ""},
		{"no key: list only", func(*testing.T, string) {}, mirror.TrustOptions{}, nil, ""},
		{"file changed", func(t *testing.T, d string) { flipByte(t, filepath.Join(d, "docs", "VERIFY.md"), 0) }, trustKeys(pub), errdef.ErrDigestMismatch, "docs/VERIFY.md (checksum mismatch)"},
		{"file missing", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "scripts", "update.sh")) }, trustKeys(pub), errdef.ErrDigestMismatch, "scripts/update.sh (missing)"},
		{"file unlisted", func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "advisories", "extra.json"), "{}") }, trustKeys(pub), errdef.ErrDigestMismatch, "advisories/extra.json (not listed)"},
		{"SHA256SUMS changed", func(t *testing.T, d string) {
			p := filepath.Join(d, "SHA256SUMS")
			data, _ := os.ReadFile(p)
			writeFile(t, p, string(data)+strings.Repeat("0", 64)+"  extra\n")
		}, trustKeys(pub), errdef.ErrSignature, ""},
		{"signature changed", func(t *testing.T, d string) {
			p := filepath.Join(d, "SHA256SUMS.sig")
			data, _ := os.ReadFile(p)
			sig, _ := base64.StdEncoding.DecodeString(string(data))
			sig[10] ^= 1
			writeFile(t, p, base64.StdEncoding.EncodeToString(sig))
		}, trustKeys(pub), errdef.ErrSignature, ""},
		{"signature missing", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "SHA256SUMS.sig")) }, trustKeys(pub), errdef.ErrSignature, ""},
		{"another key", func(*testing.T, string) {}, trustKeys(otherPub), errdef.ErrSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, signed)
			tt.tamper(t, dir)
			res, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: tt.trust})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantName) {
				t.Errorf("error %q does not name %q", err, tt.wantName)
			}
			if err == nil && (res.Signer != nil) != !tt.trust.Empty() {
				t.Errorf("signer %+v with trust %+v", res.Signer, tt.trust)
			}
		})
	}
}

// Signing works on any manifest.json, not only inside a bundle.
func TestSignPlainManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "manifest.json"), `{"hello":"world"}`+"\n")
	priv, pub := testKeys(t, "cosign")
	res, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass})
	if err != nil || res.Bundle != nil || res.Envelope != filepath.Join(dir, "manifest.dsse") {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: res.Envelope, Trust: trustKeys(pub)}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "manifest.json"), `{"hello":"there"}`+"\n")
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: res.Envelope, Trust: trustKeys(pub)}); !errors.Is(err, errdef.ErrSignature) {
		t.Fatalf("manifest.json beside the envelope changed: %v", err)
	}
}

// A signing run interrupted at any point can be run again: leftovers (an
// unreferenced referrer blob, an envelope the index does not attach) are
// replaced and removed, and the bundle verifies.
func TestResignRecoversFromInterruptedRun(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	stray := filepath.Join(dir, "blobs", "sha256", strings.Repeat("cd", 32))
	writeFile(t, stray, "half-written referrer")
	writeFile(t, filepath.Join(dir, "manifest.dsse"), `{"payloadType":"x","payload":"e30=","signatures":[]}`)
	if _, err := verify(dir, trustKeys(pub)); err == nil {
		t.Fatal("the interrupted bundle verifies")
	}
	sign(t, dir, priv)
	if _, err := os.Stat(stray); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stray blob kept: %v", err)
	}
	if _, err := verify(dir, trustKeys(pub)); err != nil {
		t.Fatal(err)
	}
}

// A tampered bundle whose oci-layout was removed is still a bundle: verify
// must not fall back to checking the signature alone and pass it.
func TestVerifyBundleWithoutOCILayoutIsNotSignatureOnly(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	tamperBlob(t, dir)
	if err := os.Remove(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{dir, filepath.Join(dir, "manifest.dsse")} {
		_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: env, Trust: trustKeys(pub)})
		if !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("verify %s: err = %v, want ErrMalformed", env, err)
		}
	}
	if _, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: dir, Trust: trustKeys(pub), SignatureOnly: true}); err != nil {
		t.Fatalf("--signature-only: %v", err)
	}
}

// A file that manifest.json does not name (a script planted in scripts/, a
// guide, a stray top-level file) is not part of the bundle: sign must not
// put it under SHA256SUMS.sig, and verify of a signed directory must refuse
// it, as verify of the packed archive does.
func TestSignAndVerifyRefuseFilesNotInBundle(t *testing.T) {
	t.Parallel()
	clean := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	for _, planted := range []string{"scripts/evil.sh", "docs/EXTRA.md", "advisories/extra.json", "notes.txt", "blobs/sha512/ab"} {
		t.Run(planted, func(t *testing.T) {
			dir := copyBundle(t, clean)
			os.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(planted))), 0o755)
			writeFile(t, filepath.Join(dir, filepath.FromSlash(planted)), "{}\n")
			_, err := mirror.Sign(context.Background(), mirror.SignOptions{
				Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"), Key: priv, Password: testPass,
			})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), planted) {
				t.Fatalf("sign: err = %v, want ErrMalformed naming %s", err, planted)
			}
			if _, err := os.Stat(filepath.Join(dir, "manifest.dsse")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatal("an envelope was written for a bundle holding a file it does not name")
			}

			signed := copyBundle(t, clean)
			sign(t, signed, priv)
			os.MkdirAll(filepath.Dir(filepath.Join(signed, filepath.FromSlash(planted))), 0o755)
			writeFile(t, filepath.Join(signed, filepath.FromSlash(planted)), "{}\n")
			if _, err := verify(signed, trustKeys(pub)); !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("verify: err = %v, want ErrMalformed", err)
			}
		})
	}
}
