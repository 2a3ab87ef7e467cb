package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// smuggleInSignatureReferrer rewrites a copy of dir so that its signature
// referrer (which no signature covers) also names payload: as its config.
func smuggleInSignatureReferrer(t *testing.T, dir string, payload []byte) (string, digest.Digest, digest.Digest) {
	t.Helper()
	out := copyBundle(t, dir)
	payloadDigest := digest.FromBytes(payload)
	if err := os.WriteFile(filepath.Join(out, layout.BlobName(payloadDigest)), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	var refDigest digest.Digest
	editIndexIn(t, out, func(idx *ocispec.Index) {
		for i, d := range idx.Manifests {
			if d.ArtifactType != bundle.ArtifactTypeDSSE {
				continue
			}
			data, err := os.ReadFile(filepath.Join(out, layout.BlobName(d.Digest)))
			if err != nil {
				t.Fatal(err)
			}
			var man ocispec.Manifest
			if err := json.Unmarshal(data, &man); err != nil {
				t.Fatal(err)
			}
			man.Config = ocispec.Descriptor{MediaType: "application/octet-stream", Digest: payloadDigest, Size: int64(len(payload))}
			data, _ = json.Marshal(man)
			os.Remove(filepath.Join(out, layout.BlobName(d.Digest)))
			refDigest = digest.FromBytes(data)
			if err := os.WriteFile(filepath.Join(out, layout.BlobName(refDigest)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			idx.Manifests[i].Digest, idx.Manifests[i].Size = refDigest, int64(len(data))
		}
	})
	return out, payloadDigest, refDigest
}

func editIndexIn(t *testing.T, dir string, edit func(idx *ocispec.Index)) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	edit(&idx)
	data, _ = json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, layout.IndexFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSignatureReferrerCarriesNothingElse: the signature referrer is the
// one manifest of a bundle that no signature covers (it wraps the
// envelope). Its config and annotations used to go unchecked, so whoever
// held the media, or could push to the source repository, made it carry a
// blob of their choosing, which import, push and serve then placed in the
// target beside the signed bundle, and which a registry reader took over
// the signer's own referrer when dated later. Now it must be exactly the
// manifest sign writes: refused from a directory or archive (exit 11,
// naming it), skipped in a registry.
func TestSignatureReferrerCarriesNothingElse(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	payload := []byte("#!/bin/sh\necho nobody signed this\n")
	dir, payloadDigest, refDigest := smuggleInSignatureReferrer(t, s.dir, payload)
	for _, src := range []string{dir, packDir(t, dir)} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			target := testutil.Registry(t)
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: src, Trust: trustKeys(s.pub), Now: testNow})
			wantReferrerRefused(t, "verify", err, refDigest)
			_, err = mirror.Import(ctx, importOpts(t, src, target, s.pub))
			wantReferrerRefused(t, "import", err, refDigest)
			_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: src, Reference: target + "/pushed", Client: testutil.Client(t)})
			wantReferrerRefused(t, "push", err, refDigest)
			_, err = mirror.OpenServed(ctx, mirror.ServeOptions{Path: src, Trust: trustKeys(s.pub), Now: testNow})
			wantReferrerRefused(t, "serve", err, refDigest)
			if tags := testutil.Tags(t, target); len(tags) != 0 {
				t.Errorf("the registry changed: %v", tags)
			}
			repo, _ := testutil.Client(t).Repository(target + "/" + bundle.DefaultBundleRepository)
			if ok, _ := repo.Blobs().Exists(ctx, ocispec.Descriptor{Digest: payloadDigest, Size: int64(len(payload))}); ok {
				t.Errorf("the unsigned blob %s is in the target", payloadDigest)
			}
		})
	}

	// In a registry: a referrer carrying the signer's own envelope, dated
	// later, with the blob as its config.
	t.Run("registry", func(t *testing.T) {
		host := testutil.Registry(t)
		ref := host + "/" + bundle.DefaultBundleRepository
		res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		if err != nil {
			t.Fatal(err)
		}
		pushed := referrersOf(t, ref, res.Root)
		envelope, err := os.ReadFile(filepath.Join(s.dir, layout.EnvelopeFile))
		if err != nil {
			t.Fatal(err)
		}
		r := rawRepo{t: t, host: host, name: bundle.DefaultBundleRepository}
		subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: res.Root, Size: rootSize(t, ref, res.Root)}
		r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: bundle.ArtifactTypeDSSE, Config: r.push("application/octet-stream", payload),
			Layers: []ocispec.Descriptor{r.push(bundle.ArtifactTypeDSSE, envelope)}, Subject: &subject,
			Annotations: map[string]string{ocispec.AnnotationCreated: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		})
		assertTakesSigned(t, s, ref+":"+s.rel.Spec.Version, trustKeys(s.pub), res.Root, pushed)
	})
}

// rootSize is the size of the manifest root names in ref.
func rootSize(t *testing.T, ref string, root digest.Digest) int64 {
	t.Helper()
	repo, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := repo.Resolve(context.Background(), root.String())
	if err != nil {
		t.Fatal(err)
	}
	return d.Size
}

func wantReferrerRefused(t *testing.T, op string, err error, referrer digest.Digest) {
	t.Helper()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), referrer.String()) {
		t.Errorf("%s: err = %v, want ErrMalformed naming the signature referrer %s", op, err, referrer)
	}
}
