package mirror_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCoSignedBundleRoundTrips: the trust checks added to the bundle
// readers (the signature referrer and the root exactly as sign and create
// write them, side files bound to this envelope, a base read only with its
// signer's key) refuse none of the bundles a user rightly expects to pass:
// one signed twice (two signatures in one envelope), pushed, synced to a
// registry without the referrers API (distribution v2.8, fallback tags),
// pulled back from both and imported with its side files, and used as the
// --base of a delta as a directory and as a reference in either registry.
func TestCoSignedBundleRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	priv2, pub2 := testKeys(t, "second")
	sign(t, s.dir, priv2) // co-signed: two signatures
	both := mirror.TrustOptions{Keys: []string{s.pub, pub2}, Threshold: 2}
	for name, trust := range map[string]mirror.TrustOptions{"first": trustKeys(s.pub), "second": trustKeys(pub2), "both": both} {
		if _, err := verify(s.dir, trust); err != nil {
			t.Fatalf("verify %s: %v", name, err)
		}
	}
	withRef := testutil.Registry(t)
	noRef := testutil.DistributionV2(t)
	ref := withRef + "/stellaops/mirror-bundle"
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: both, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("push: %v", err)
	}
	if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref + ":" + s.rel.Spec.Version, Destination: noRef + "/synced/bundle",
		Trust: both, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("sync to a registry without referrers: %v", err)
	}
	for _, from := range []string{ref, noRef + "/synced/bundle"} {
		out := filepath.Join(t.TempDir(), "pulled")
		if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: from + ":" + s.rel.Spec.Version, Output: out, Trust: both, Client: client, Transfer: transferOpts()}); err != nil {
			t.Fatalf("pull %s: %v", from, err)
		}
		if _, err := verify(out, both); err != nil {
			t.Fatalf("verify pulled from %s: %v", from, err)
		}
		opts := importOpts(t, out, testutil.Registry(t), pub2)
		res, err := mirror.Import(ctx, opts)
		if err != nil {
			t.Fatalf("import pulled from %s: %v", from, err)
		}
		if res.FilesNotCarried != nil {
			t.Errorf("import pulled from %s: files not carried: %+v", from, res.FilesNotCarried)
		}
	}
	// A delta from a registry REF base, with --base-key.
	_, relB, advB := testutil.PushSample(t, s.source, sample.Spec{Variant: 5, Version: "2025.11.0"})
	for _, base := range []string{ref + ":" + s.rel.Spec.Version, noRef + "/synced/bundle:" + s.rel.Spec.Version, s.dir} {
		opts := createOpts(t, relB, advB, filepath.Join(t.TempDir(), "delta"))
		opts.Base, opts.BaseTrust = base, trustKeys(pub2)
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Fatalf("create --base %s --base-key: %v", base, err)
		}
	}
}

// TestCertificateSignedBase: a base signed with --certificate, trusted by
// --base-trust-root, as a directory, an archive and a registry reference.
func TestCertificateSignedBase(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	dir := copyBundle(t, s.dir)
	root := testutil.NewRootCA(t, "Root")
	signing := root.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", root.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signing.Leaf(t, "signer", signerPub(t, s.priv), testutil.LeafOptions{}))
	sign(t, dir, s.priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	trust := mirror.TrustOptions{TrustRoots: []string{rootPEM}}
	if _, err := verify(dir, trust); err != nil {
		t.Fatal(err)
	}
	host := testutil.Registry(t)
	ref := host + "/stellaops/mirror-bundle"
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Trust: trust, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("push: %v", err)
	}
	archive := filepath.Join(t.TempDir(), "base.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatal(err)
	}
	_, relB, advB := testutil.PushSample(t, s.source, sample.Spec{Variant: 5, Version: "2025.11.0"})
	for _, base := range []string{dir, archive, ref + ":" + s.rel.Spec.Version} {
		opts := createOpts(t, relB, advB, filepath.Join(t.TempDir(), "delta"))
		opts.Base, opts.BaseTrust = base, trust
		if _, err := mirror.Create(ctx, opts); err != nil {
			t.Errorf("create --base %s --base-trust-root: %v", base, err)
		}
	}
}

// TestOnePassArchiveRoundTrips: create --output FILE.tar --key (and
// --certificate), imported with its side files, pushed and pulled.
func TestOnePassArchiveRoundTrips(t *testing.T) {
	ctx := context.Background()
	source := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	priv, pub := testKeys(t, "onepass")
	root := testutil.NewRootCA(t, "Root")
	signing := root.Intermediate(t, "Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", root.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signing.Leaf(t, "signer", signerPub(t, priv), testutil.LeafOptions{}))
	for name, cert := range map[string]bool{"key": false, "certificate": true} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle.tar")
			opts := createOpts(t, releaseFile, advisories, out)
			opts.Key, opts.Password = priv, testPass
			trust := trustKeys(pub)
			if cert {
				opts.Certificate, opts.CertificateChain = leafPEM, chainPEM
				trust = mirror.TrustOptions{TrustRoots: []string{rootPEM}}
			}
			if _, err := mirror.Create(ctx, opts); err != nil {
				t.Fatal(err)
			}
			iopts := importOpts(t, out, testutil.Registry(t), pub)
			iopts.Trust = trust
			res, err := mirror.Import(ctx, iopts)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if res.FilesNotCarried != nil {
				t.Errorf("files not carried: %+v", res.FilesNotCarried)
			}
			ref := testutil.Registry(t) + "/b/bundle"
			client := testutil.Client(t)
			if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: out, Reference: ref, Trust: trust, Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatalf("push: %v", err)
			}
			pulled := filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":2025.10.0", Output: pulled, Trust: trust, Client: client, Transfer: transferOpts()}); err != nil {
				t.Errorf("pull: %v", err)
			}
		})
	}
}

// TestTwoSigningsInRegistry: pushed signed by A, then co-signed by B
// and pushed again: the root has two signings in the registry.
func TestTwoSigningsInRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	client := testutil.Client(t)
	for _, host := range []string{testutil.Registry(t), testutil.RegistryNoReferrers(t)} {
		ref := host + "/stellaops/mirror-bundle"
		dir := copyBundle(t, s.dir)
		if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: client, Transfer: transferOpts()}); err != nil {
			t.Fatalf("push: %v", err)
		}
		priv2, pub2 := testKeys(t, "b")
		sign(t, dir, priv2, func(o *mirror.SignOptions) { o.Created = fixedTime.Add(time.Minute) })
		if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: client, Transfer: transferOpts()}); err != nil {
			t.Fatalf("push co-signed: %v", err)
		}
		for name, trust := range map[string]mirror.TrustOptions{"a": trustKeys(s.pub), "b": trustKeys(pub2), "both": {Keys: []string{s.pub, pub2}, Threshold: 2}} {
			out := filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: out, Trust: trust, Client: client, Transfer: transferOpts()}); err != nil {
				t.Errorf("%s: pull trusting %s: %v", host, name, err)
				continue
			}
			res, err := mirror.Import(ctx, mirror.ImportOptions{Source: out, Registry: testutil.Registry(t), Trust: trust, Now: testNow, Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Errorf("%s: import pulled trusting %s: %v", host, name, err)
				continue
			}
			if res.FilesNotCarried != nil {
				t.Errorf("%s: %s: files not carried: %+v", host, name, res.FilesNotCarried)
			}
			if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref + ":" + s.rel.Spec.Version, Destination: testutil.RegistryNoReferrers(t) + "/x/b", Trust: trust, Client: client, Transfer: transferOpts()}); err != nil {
				t.Errorf("%s: sync trusting %s: %v", host, name, err)
			}
		}
	}
}
