package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A cosign tag in manifest.json for a digest the bundle does not carry for
// that image would have import write, beside the image, a signature of
// content the far side does not have. manifest.json is signed, so only a
// faulty producer writes one: verify, inspect and import refuse the
// bundle as malformed (exit 11), naming the tag and the image, and import
// writes nothing. They used to take it, and import wrote the tag.
func TestCosignTagOfAManifestNotCarriedIsRefused(t *testing.T) {
	ctx := context.Background()
	sb := strayTagBundle(t)
	dir, pub := sb.dir, sb.pub
	_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub)})
	sb.refused(t, "verify", err)
	_, err = mirror.Inspect(ctx, dir, testNow)
	sb.refused(t, "inspect", err)
	dst := testutil.Distribution(t)
	_, err = mirror.Import(ctx, importOpts(t, dir, dst, pub))
	sb.refused(t, "import", err)
	far, _ := testutil.Client(t).Repository(dst + "/" + sb.repo)
	for _, tag := range []string{sb.stray, "2025.10.0"} {
		if _, err := far.Resolve(ctx, tag); err == nil {
			t.Errorf("import wrote %s", tag)
		}
	}
}

// strayTagged is a signed bundle directory whose manifest.json gives its
// one image (repo@image) a cosign tag, stray, for a digest the bundle does
// not carry: a faulty producer's.
type strayTagged struct {
	dir, pub, repo, stray string
	image                 digest.Digest
}

func strayTagBundle(t *testing.T) *strayTagged {
	t.Helper()
	ctx := context.Background()
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/stray"}
	img := r.image("app", "", nil)
	r.image("sbom", "application/spdx+json", subjectOf(img))
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", dir)
	opts.Version = "2025.10.0"
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	elsewhere := digest.FromString("a manifest no bundle carries")
	stray := bundle.CosignTag(elsewhere, ".sig")
	rewriteManifestJSON(t, dir, func(m *bundle.Manifest) {
		// A faulty producer: the SBOM recorded as the signature of
		// another digest, under that digest's cosign tag.
		m.Images[0].Referrers[0].Subject = elsewhere
		m.Images[0].Referrers[0].Tag = stray
	})
	priv, pub := testKeys(t, "producer")
	signAsProducer(t, dir, priv)
	return &strayTagged{dir: dir, pub: pub, repo: r.name, stray: stray, image: img.Digest}
}

// refused fails unless err refuses the bundle as malformed (exit 11),
// naming the stray tag and the image.
func (sb *strayTagged) refused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), sb.stray) || !strings.Contains(err.Error(), sb.repo+"@"+sb.image.String()) {
		t.Errorf("%s: err = %v, want ErrMalformed naming %s and the image %s@%s", what, err, sb.stray, sb.repo, sb.image)
	}
}

// signAsProducer writes manifest.dsse over dir's manifest.json, and its
// referrer of the root, as the producer's own tool would, with no check of
// what it signs (sign refuses a bundle that does not verify); it drops
// create's SHA256SUMS, which named the manifest.json before the edit.
func signAsProducer(t *testing.T, dir, priv string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.LoadSigner(context.Background(), priv, testPass)
	if err != nil {
		t.Fatal(err)
	}
	env := dsse.New(bundle.PayloadType, data)
	if err := env.Sign(context.Background(), signer); err != nil {
		t.Fatal(err)
	}
	out, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.dsse"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Fatal(err)
	}
	// The envelope's referrer of the root, listed in index.json.
	var index ocispec.Index
	indexData, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(indexData, &index); err != nil {
		t.Fatal(err)
	}
	envDesc := ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromBytes(out), Size: int64(len(out))}
	ref, err := bundle.SignatureManifest(index.Manifests[0], envDesc, fixedTime)
	if err != nil {
		t.Fatal(err)
	}
	for d, data := range map[digest.Digest][]byte{envDesc.Digest: out, ref.Descriptor.Digest: ref.Bytes} {
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refDesc := ref.Descriptor
	refDesc.ArtifactType = bundle.ArtifactTypeDSSE
	index.Manifests = append(index.Manifests, refDesc)
	if indexData, err = json.Marshal(index); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), indexData, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewriteManifestJSON edits a bundle directory's manifest.json as a faulty
// producer would have written it: the metadata manifest, the root and
// index.json follow, so that only what the edit says is wrong. Every file
// and blob it replaces is removed first (manifest.json is a hard link to
// its blob).
func rewriteManifestJSON(t *testing.T, dir string, edit func(*bundle.Manifest)) {
	t.Helper()
	blob := func(d digest.Digest) string { return filepath.Join(dir, "blobs", "sha256", d.Encoded()) }
	read := func(path string, v any) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, data []byte) {
		t.Helper()
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var index, root ocispec.Index
	read(filepath.Join(dir, "index.json"), &index)
	oldRoot := index.Manifests[0]
	read(blob(oldRoot.Digest), &root)
	oldMeta, err := bundle.MetadataDescriptor(&root)
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, dir)
	edit(m)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oldJSON, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []digest.Digest{oldRoot.Digest, oldMeta.Digest, digest.FromBytes(oldJSON)} {
		if err := os.Remove(blob(d)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "manifest.json"), data)
	write(blob(digest.FromBytes(data)), data)
	meta, err := bundle.MetadataManifest(ocispec.Descriptor{MediaType: bundle.MediaTypeManifestJSON, Digest: digest.FromBytes(data), Size: int64(len(data))}, m)
	if err != nil {
		t.Fatal(err)
	}
	newRoot, err := bundle.RootIndex(m, meta.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []bundle.Document{meta, newRoot} {
		write(blob(doc.Descriptor.Digest), doc.Bytes)
	}
	idx, err := json.Marshal(mirror.LayoutIndex(m, newRoot.Descriptor))
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "index.json"), idx)
}

// A bundle directory that lost a platform manifest on the media (its blob
// removed) is content lost, exit 2 (do not import it), whether or not a
// cosign tag names that manifest, and import writes no tag. The cosign tag
// check, which reads the image's graph for such a tag's subject, said
// input not found (exit 1), as if the operator had mistyped a path; so did
// import's placement for a manifest no tag names.
func TestMissingPlatformManifestIsAMismatch(t *testing.T) {
	for _, tagged := range []bool{true, false} {
		t.Run(fmt.Sprintf("under a cosign tag %v", tagged), func(t *testing.T) {
			ctx := context.Background()
			src := testutil.Registry(t)
			r := rawRepo{t, src, fmt.Sprintf("app/platform-signed-%v", tagged)}
			idx, amd, _ := r.twoPlatforms()
			if tagged {
				// A signature of the amd64 manifest under cosign's tag for
				// it, as cosign sign --recursive leaves it.
				sig := r.image("signature of amd64", "", nil)
				srcRepo, err := testutil.Client(t).Repository(src + "/" + r.name)
				if err != nil {
					t.Fatal(err)
				}
				if err := srcRepo.Tag(ctx, sig, bundle.CosignTag(amd.Digest, ".sig")); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(t.TempDir(), "bundle")
			opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", dir)
			opts.Version = "2025.10.0"
			if _, err := mirror.Create(ctx, opts); err != nil {
				t.Fatal(err)
			}
			if m := readManifest(t, dir); tagged && (len(m.Images[0].Referrers) != 1 || m.Images[0].Referrers[0].Subject != amd.Digest) {
				t.Fatalf("manifest.json referrers %+v, want the amd64 manifest's signature", m.Images[0].Referrers)
			}
			priv, pub := testKeys(t, "producer")
			if _, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, "blobs", "sha256", amd.Digest.Encoded())); err != nil {
				t.Fatal(err)
			}
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: testNow, Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub)})
			if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), amd.Digest.Encoded()) {
				t.Errorf("verify of a bundle that lost %s: %v, want a digest mismatch naming it (exit 2)", amd.Digest, err)
			}
			dst := testutil.Registry(t)
			_, err = mirror.Import(ctx, importOpts(t, dir, dst, pub))
			if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), amd.Digest.Encoded()) {
				t.Errorf("import of a bundle that lost %s: %v, want a digest mismatch naming it (exit 2)", amd.Digest, err)
			}
			if tags := testutil.Tags(t, dst); len(tags) != 0 {
				t.Errorf("import wrote tags %v", tags)
			}
		})
	}
}
