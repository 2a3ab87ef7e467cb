package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestHostileSignatureReferrers: whoever may push to the source repository
// can attach signature referrers of their own to a validly signed bundle's
// root. A reader trusting the signer's key takes the signing that
// verifies, and copies that one alone: not an attacker's envelope over the
// same manifest.json with more signatures and a later date, nor the signer's
// own envelope of an older bundle replayed under this root. A referrer that
// is no signature at all (two layers, an envelope over the size bound) is
// skipped with a warning: it used to fail import, pull and sync of the valid
// bundle as malformed (exit 11).
func TestHostileSignatureReferrers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	older := newSignedSample(t, sample.Spec{Variant: 3}, 0)
	sign(t, older.dir, s.priv)
	replayed, err := os.ReadFile(filepath.Join(older.dir, "manifest.dsse"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(s.dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forgedEnvelope(t, manifest).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	oversized := append(bytes.Repeat([]byte(" "), bundle.MaxManifestSize), forged...)
	for name, layers := range map[string][][]byte{
		"attacker's envelope, more signatures, later": {forged},
		"older bundle's envelope replayed":            {replayed},
		"two layers":                                  {forged, forged},
		"envelope over the size bound":                {oversized},
	} {
		t.Run(name, func(t *testing.T) {
			host := testutil.Registry(t)
			client := testutil.Client(t)
			ref := host + "/stellaops/mirror-bundle"
			res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			pushed := referrersOf(t, ref, res.Root)
			if len(pushed) != 2 {
				t.Fatalf("%d referrers after push, want 2 (signature, files)", len(pushed))
			}
			r := rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}
			pushSignatureReferrer(r, res.Root, layers, later)
			if got := referrersOf(t, ref, res.Root); len(got) != 3 {
				t.Fatalf("%d referrers after the hostile one, want 3", len(got))
			}
			tagged := ref + ":" + s.rel.Spec.Version
			assertTakesSigned(t, s, tagged, trustKeys(s.pub), res.Root, pushed)
			// Trusting only the attackers' keys still finds nothing to trust.
			_, attackerPub := testKeys(t, "unrelated")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: filepath.Join(t.TempDir(), "p"), Trust: trustKeys(attackerPub), Client: client, Transfer: transferOpts()}); err == nil {
				t.Fatal("pull trusting an unrelated key succeeded")
			}
		})
	}
}

// referrersOf lists the digests of the referrers of root in ref, sorted.
func referrersOf(t *testing.T, ref string, root digest.Digest) []digest.Digest {
	t.Helper()
	repo, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := registry.Referrers(context.Background(), repo, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: root}, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, d := range refs {
		out = append(out, d.Digest)
	}
	slices.Sort(out)
	return out
}

// pushSignatureReferrer attaches a signature referrer (one layer per
// envelope given; for one, the manifest sign writes) to root.
func pushSignatureReferrer(r rawRepo, root digest.Digest, envelopes [][]byte, created time.Time) {
	r.t.Helper()
	repo, err := testutil.Client(r.t).Repository(r.host + "/" + r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	subject, err := repo.Resolve(context.Background(), root.String())
	if err != nil {
		r.t.Fatal(err)
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	cfg := r.push(ocispec.MediaTypeEmptyJSON, []byte("{}"))
	if len(envelopes) == 1 {
		// Exactly as sign writes it: readers skip any other manifest.
		doc, err := bundle.SignatureManifest(subject, r.push(bundle.ArtifactTypeDSSE, envelopes[0]), created)
		if err != nil {
			r.t.Fatal(err)
		}
		r.push(ocispec.MediaTypeImageManifest, doc.Bytes)
		return
	}
	var layers []ocispec.Descriptor
	for _, e := range envelopes {
		layers = append(layers, r.push(bundle.ArtifactTypeDSSE, e))
	}
	r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: bundle.ArtifactTypeDSSE, Config: cfg, Layers: layers, Subject: &subject,
		Annotations: map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)},
	})
}

// TestHostileFilesReferrer: the files referrer (public-key.pem, SHA256SUMS
// and its signature, the certificates) is no signature, and anyone who may
// push to the repository can attach one that names the valid envelope, as
// sign's does, by copying its SHA256SUMS, but leaves a file out or holds
// another. A reader pairs the signature with the files referrer whose
// files are those its SHA256SUMS lists, so that --trust-root still finds
// the signer's certificate and pull gives back the signed directory.
func TestHostileFilesReferrer(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	root := testutil.NewRootCA(t, "StellaOps Root CA")
	signing := root.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", root.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signing.Cert)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signing.Leaf(t, "mirror-signing", signerPub(t, s.priv), testutil.LeafOptions{}))
	sign(t, s.dir, s.priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	byRoot := mirror.TrustOptions{TrustRoots: []string{rootPEM}}
	for name, keep := range map[string]func(title string) bool{
		"certificate left out":    func(title string) bool { return title != "certificate.pem" },
		"public-key.pem left out": func(title string) bool { return title != "public-key.pem" },
	} {
		t.Run(name, func(t *testing.T) {
			host := testutil.Registry(t)
			client := testutil.Client(t)
			ref := host + "/stellaops/mirror-bundle"
			res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: byRoot, Client: client, Transfer: transferOpts()})
			if err != nil {
				t.Fatal(err)
			}
			pushed := referrersOf(t, ref, res.Root)
			r := rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}
			pushFilesLookalike(r, pushed, keep)
			assertTakesSigned(t, s, ref+":"+s.rel.Spec.Version, byRoot, res.Root, pushed)
		})
	}
}

// pushFilesLookalike copies the files referrer among refs, keeping the
// layers keep accepts, under a digest that sorts before every one of refs.
func pushFilesLookalike(r rawRepo, refs []digest.Digest, keep func(title string) bool) {
	r.t.Helper()
	repo, err := testutil.Client(r.t).Repository(r.host + "/" + r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range refs {
		_, rc, err := repo.FetchReference(context.Background(), d.String())
		if err != nil {
			r.t.Fatal(err)
		}
		var man ocispec.Manifest
		err = json.NewDecoder(rc).Decode(&man)
		rc.Close()
		if err != nil {
			r.t.Fatal(err)
		}
		if man.ArtifactType != bundle.ArtifactTypeFiles {
			continue
		}
		var layers []ocispec.Descriptor
		for _, l := range man.Layers {
			if keep(l.Annotations[ocispec.AnnotationTitle]) {
				layers = append(layers, l)
			}
		}
		man.Layers = layers
		for i := 0; ; i++ {
			man.Annotations = map[string]string{"seed": strconv.Itoa(i)}
			data, _ := json.Marshal(man)
			if dg := digest.FromBytes(data); dg < slices.Min(refs) {
				r.push(ocispec.MediaTypeImageManifest, data)
				return
			}
		}
	}
	r.t.Fatal("no files referrer")
}

// assertTakesSigned imports the bundle at tagged, trusting trust, and
// pulls it: import must copy exactly the referrers the signed push made
// (pushed, of root), and pull must give back the signed directory.
func assertTakesSigned(t *testing.T, s *signedSample, tagged string, trust mirror.TrustOptions, root digest.Digest, pushed []digest.Digest) {
	t.Helper()
	ctx := context.Background()
	target := testutil.Registry(t)
	opts := importOpts(t, tagged, target, s.pub)
	opts.Trust = trust
	if _, err := mirror.Import(ctx, opts); err != nil {
		t.Fatalf("import: %v", err)
	}
	if copied := referrersOf(t, target+"/"+bundle.DefaultBundleRepository, root); !slices.Equal(copied, pushed) {
		t.Errorf("import copied referrers %v, want the signed push's %v", copied, pushed)
	}
	out := filepath.Join(t.TempDir(), "pulled")
	if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	assertSameTree(t, s.dir, out)
}

// forgedEnvelope is an envelope over manifest signed by the attacker's
// keys (attacker1, attacker2): more signatures than the signer's, and
// none of the signer's.
func forgedEnvelope(t *testing.T, manifest []byte) *dsse.Envelope {
	t.Helper()
	env := dsse.New(bundle.PayloadType, manifest)
	for _, name := range []string{"attacker1", "attacker2"} {
		priv, _ := testKeys(t, name)
		signer, err := keys.LoadSigner(context.Background(), priv, testPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Sign(context.Background(), signer); err != nil {
			t.Fatal(err)
		}
	}
	return env
}
