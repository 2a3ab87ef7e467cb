package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSignOutputAnotherFileOfTheBundle: sign --output naming a file of a
// bundle directory that is not its envelope (public-key.pem, SHA256SUMS,
// index.json, a typo or a completion away from manifest.dsse) was refused
// as "existing envelope: … (remove it to start afresh)": advice to remove
// a file of the bundle, after which it no longer verifies. It is refused
// as usage before the key is opened, naming the envelope to give, and
// nothing is written (found by review).
func TestSignOutputAnotherFileOfTheBundle(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig", "index.json", "oci-layout"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			before, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			_, err = mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Output: out, Key: priv, Password: testPass})
			if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "remove it") || !strings.Contains(err.Error(), filepath.Join(dir, "manifest.dsse")) {
				t.Errorf("sign --output %s: %v; want a usage error naming %s", name, err, filepath.Join(dir, "manifest.dsse"))
			}
			if now, _ := os.ReadFile(out); !bytes.Equal(now, before) {
				t.Errorf("%s was written", name)
			}
		})
	}
}

// TestSignOutputNewFileInTheBundle: sign DIR/manifest.json --output
// DIR/NEW.dsse (a name not yet in the bundle) signed as outside a bundle
// and wrote the envelope, and with --certificate the certificates, into
// the bundle directory: a file no part of the bundle, which verify then
// refuses, and certificate.pem written over the bundle's, SHA256SUMS not
// updated (verify-checksums then exit 2). It is refused as the other
// files are, and nothing in the directory changes.
func TestSignOutputNewFileInTheBundle(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "mirror-signing")
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signing.Leaf(t, "mirror-signing", signerPub(t, priv), testutil.LeafOptions{}))
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	other := testutil.WritePEM(t, pki, "other.pem", signing.Leaf(t, "mirror-signing-2", signerPub(t, priv), testutil.LeafOptions{}))
	before := testutil.Tree(t, dir)
	for _, name := range []string{"new.dsse", "manifest.dsse.bak"} {
		out := filepath.Join(dir, name)
		_, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Output: out, Key: priv, Password: testPass, Certificate: other, CertificateChain: chainPEM})
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), filepath.Join(dir, "manifest.dsse")) {
			t.Errorf("sign --output %s: %v; want a usage error naming %s", name, err, filepath.Join(dir, "manifest.dsse"))
		}
		if now := testutil.Tree(t, dir); now != before {
			t.Errorf("sign --output %s changed the bundle directory:\n%s\nwas\n%s", name, now, before)
		}
	}
}
