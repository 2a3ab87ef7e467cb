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
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// rewriteTop rewrites, in a copy of dir, the two manifests manifest.json
// does not name by digest (the metadata manifest and the root), then the
// signature referrer and index.json to match, as whoever holds the media
// can: no signature changes. It returns the copy and the digest of the
// manifest edited last (the root if editRoot is set, else the metadata).
func rewriteTop(t *testing.T, dir string, editMeta func(*ocispec.Manifest), editRoot func(*ocispec.Index)) (string, digest.Digest) {
	t.Helper()
	out := copyBundle(t, dir)
	read := func(d digest.Digest) []byte {
		data, err := os.ReadFile(filepath.Join(out, layout.BlobName(d)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	write := func(v any) (digest.Digest, int64) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(data)
		if err := os.WriteFile(filepath.Join(out, layout.BlobName(d)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return d, int64(len(data))
	}
	idxData, err := os.ReadFile(filepath.Join(out, layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(idxData, &idx); err != nil {
		t.Fatal(err)
	}
	ri := -1
	for i, d := range idx.Manifests {
		if d.ArtifactType == bundle.ArtifactTypeBundle {
			ri = i
		}
	}
	oldRoot := idx.Manifests[ri].Digest
	var root ocispec.Index
	json.Unmarshal(read(oldRoot), &root)
	os.Remove(filepath.Join(out, layout.BlobName(oldRoot)))
	var culprit digest.Digest
	for i, c := range root.Manifests {
		if c.Annotations[bundle.AnnotationRole] != bundle.RoleMetadata || editMeta == nil {
			continue
		}
		var meta ocispec.Manifest
		json.Unmarshal(read(c.Digest), &meta)
		os.Remove(filepath.Join(out, layout.BlobName(c.Digest)))
		editMeta(&meta)
		root.Manifests[i].Digest, root.Manifests[i].Size = write(meta)
		culprit = root.Manifests[i].Digest
	}
	if editRoot != nil {
		editRoot(&root)
	}
	rootDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex}
	rootDesc.Digest, rootDesc.Size = write(root)
	if editRoot != nil {
		culprit = rootDesc.Digest
	}
	idx.Manifests[ri].Digest, idx.Manifests[ri].Size = rootDesc.Digest, rootDesc.Size
	env, err := os.ReadFile(filepath.Join(out, layout.EnvelopeFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range idx.Manifests {
		if d.ArtifactType != bundle.ArtifactTypeDSSE {
			continue
		}
		sig, err := bundle.SignatureManifest(rootDesc, ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromBytes(env), Size: int64(len(env))}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(out, layout.BlobName(d.Digest)))
		if err := os.WriteFile(filepath.Join(out, layout.BlobName(sig.Descriptor.Digest)), sig.Bytes, 0o644); err != nil {
			t.Fatal(err)
		}
		idx.Manifests[i].Digest, idx.Manifests[i].Size = sig.Descriptor.Digest, sig.Descriptor.Size
	}
	data, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(out, layout.IndexFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The list of checksums would give the rewrite away; the attacker
	// leaves it out.
	os.Remove(filepath.Join(out, layout.ChecksumsFile))
	os.Remove(filepath.Join(out, layout.ChecksumsSigFile))
	return out, culprit
}

// TestRootAndMetadataAreManifestJSONs: the root index and the metadata
// manifest are not named by digest in manifest.json; they are made from
// it. Only their children were checked against it, so whoever held the
// media could give the metadata manifest a config of their own (a blob
// nobody signed, pushed to the far registry), or the root a subject (the
// bundle root listed as a referrer of a release image) or annotations,
// re-attach the unchanged envelope, and import placed it all and tagged
// it. Now each must be, byte for byte, the one manifest.json makes
// (exit 11, naming it).
func TestRootAndMetadataAreManifestJSONs(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	m := readManifest(t, s.dir)
	payload := []byte("#!/bin/sh\necho nobody signed this\n")
	payloadDesc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(payload), Size: int64(len(payload))}
	image := ocispec.Descriptor{MediaType: m.Images[0].MediaType, Digest: m.Images[0].Digest, Size: m.Images[0].Size}
	cases := map[string]struct {
		meta func(*ocispec.Manifest)
		root func(*ocispec.Index)
	}{
		"metadata config": {meta: func(man *ocispec.Manifest) { man.Config = payloadDesc }},
		"metadata layer annotation": {meta: func(man *ocispec.Manifest) {
			man.Layers[1].Annotations["io.deis.oras.content.unpack"] = "true"
		}},
		"root subject":    {root: func(idx *ocispec.Index) { idx.Subject = &image }},
		"root annotation": {root: func(idx *ocispec.Index) { idx.Annotations["org.opencontainers.image.source"] = "https://evil.example" }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir, culprit := rewriteTop(t, s.dir, c.meta, c.root)
			if name == "metadata config" {
				if err := os.WriteFile(filepath.Join(dir, layout.BlobName(payloadDesc.Digest)), payload, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, src := range []string{dir, packDir(t, dir)} {
				target := testutil.Registry(t)
				_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: src, Trust: trustKeys(s.pub), Now: testNow})
				wantDerivedRefused(t, "verify "+filepath.Base(src), err, culprit)
				_, err = mirror.Import(ctx, importOpts(t, src, target, s.pub))
				wantDerivedRefused(t, "import "+filepath.Base(src), err, culprit)
				_, err = mirror.OpenServed(ctx, mirror.ServeOptions{Path: src, Trust: trustKeys(s.pub), Now: testNow})
				wantDerivedRefused(t, "serve "+filepath.Base(src), err, culprit)
				if tags := testutil.Tags(t, target); len(tags) != 0 {
					t.Errorf("%s: the registry changed: %v", filepath.Base(src), tags)
				}
				repo, _ := testutil.Client(t).Repository(target + "/" + bundle.DefaultBundleRepository)
				if ok, _ := repo.Blobs().Exists(ctx, payloadDesc); ok {
					t.Errorf("%s: the unsigned blob %s is in the target", filepath.Base(src), payloadDesc.Digest)
				}
			}
		})
	}
}

func wantDerivedRefused(t *testing.T, op string, err error, culprit digest.Digest) {
	t.Helper()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), culprit.String()) {
		t.Errorf("%s: err = %v, want ErrMalformed naming %s", op, err, culprit)
	}
}
