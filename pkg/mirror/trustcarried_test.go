package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTrustInTheBundleRefused: a bundle directory's own public-key.pem
// given as --key (or its certificate.pem or certificate-chain.pem as
// --trust-root) made the bundle vouch for itself: any signer passed
// verify, verify-checksums, import, push, serve, inspect and create
// --base, exit 0, as the bundle a forger altered would. verify.sh and
// load.sh refuse it; now every command does, exit 1, naming the flag and
// the file, before anything is read or written. A hard link to the file
// is the file; a copy is the operator's own to vouch for.
func TestTrustInTheBundleRefused(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatal(err)
	}
	priv, _ := testKeys(t, "mirror-signing")
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signing.Leaf(t, "mirror-signing", signerPub(t, priv), testutil.LeafOptions{}))
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	sign(t, dir, priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })

	ownKey := filepath.Join(dir, "public-key.pem")
	linked := filepath.Join(t.TempDir(), "trusted.pem")
	if err := os.Link(ownKey, linked); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "trusted.pem")
	if err := os.WriteFile(copied, readFile(t, ownKey), 0o644); err != nil {
		t.Fatal(err)
	}
	keyed := func(k string) mirror.TrustOptions { return trustKeys(k) }
	rooted := func(r string) mirror.TrustOptions { return mirror.TrustOptions{TrustRoots: []string{r}} }
	refusedTarget, target := testutil.Registry(t), testutil.Registry(t)
	commands := map[string]func(tr mirror.TrustOptions, target string) error{
		"verify": func(tr mirror.TrustOptions, target string) error { _, err := verify(dir, tr); return err },
		"verify DIR": func(tr mirror.TrustOptions, target string) error {
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: dir, Trust: tr})
			return err
		},
		"verify-checksums": func(tr mirror.TrustOptions, target string) error {
			_, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: dir, Trust: tr})
			return err
		},
		"import": func(tr mirror.TrustOptions, target string) error {
			opts := importOpts(t, dir, target, "")
			opts.Trust = tr
			_, err := mirror.Import(ctx, opts)
			return err
		},
		"push": func(tr mirror.TrustOptions, target string) error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: target + "/stellaops/mirror-bundle", Client: testutil.Client(t), Transfer: transferOpts(), Trust: tr})
			return err
		},
		"serve": func(tr mirror.TrustOptions, target string) error {
			b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: dir, Trust: tr, Now: testNow})
			if err == nil {
				b.Close()
			}
			return err
		},
		"inspect": func(tr mirror.TrustOptions, target string) error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: dir, Now: testNow, Trust: tr})
			return err
		},
		"create --base": func(tr mirror.TrustOptions, target string) error {
			opts := createOpts(t, releaseFile, advisories, filepath.Join(t.TempDir(), "delta"))
			opts.Version, opts.Base, opts.BaseTrust = "2025.11.0", dir, tr
			_, err := mirror.Create(ctx, opts)
			return err
		},
	}
	refused := []struct {
		trust mirror.TrustOptions
		names string
	}{
		{keyed(ownKey), "--key " + ownKey + " is the bundle's own public-key.pem"},
		{keyed(linked), "--key " + linked + " is the bundle's own public-key.pem"},
		{rooted(filepath.Join(dir, "certificate-chain.pem")), "is the bundle's own certificate-chain.pem"},
		{rooted(filepath.Join(dir, "certificate.pem")), "is the bundle's own certificate.pem"},
	}
	for name, run := range commands {
		t.Run(name, func(t *testing.T) {
			for _, c := range refused {
				err := run(c.trust, refusedTarget)
				if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), c.names) {
					t.Errorf("err = %v, want ErrUsage naming %q", err, c.names)
				}
			}
			if name == "create --base" {
				return
			}
			if err := run(keyed(copied), target); err != nil {
				t.Errorf("a copy of the key, the operator's own: %v", err)
			}
		})
	}
	// An envelope kept alone, in a directory of the operator's keys where
	// the trusted one is called public-key.pem: no bundle is there to
	// vouch for itself.
	t.Run("envelope alone beside the operator's key", func(t *testing.T) {
		keysDir := t.TempDir()
		writeFile(t, filepath.Join(keysDir, "x.dsse"), string(readFile(t, filepath.Join(dir, "manifest.dsse"))))
		writeFile(t, filepath.Join(keysDir, "public-key.pem"), string(readFile(t, copied)))
		if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(keysDir, "x.dsse"), Trust: keyed(filepath.Join(keysDir, "public-key.pem"))}); err != nil {
			t.Errorf("an envelope beside the operator's own key: %v", err)
		}
		writeFile(t, filepath.Join(keysDir, "manifest.json"), string(readFile(t, filepath.Join(dir, "manifest.json"))))
		if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(keysDir, "x.dsse"), Trust: keyed(filepath.Join(keysDir, "public-key.pem"))}); !errors.Is(err, errdef.ErrUsage) {
			t.Errorf("beside a bundle's manifest.json, its public-key.pem: err = %v, want ErrUsage", err)
		}
	})
	// Refused before anything was written.
	if tags := testutil.Tags(t, refusedTarget); len(tags) != 0 {
		t.Errorf("refused runs wrote %v", tags)
	}
}
