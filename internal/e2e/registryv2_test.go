package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestRegistryV28 runs the far side's flows against the CNCF registry
// v2.8 (Debian's docker-registry, what the registry:2 image runs), which
// many air-gapped sites still have: no referrers API, no tag deletes by
// name, tag lists unsorted and unpaged, an OCI index not served to a
// request that does not accept it. The source is a v2.8 registry too, its
// image signed by cosign under its tag scheme. doctor reports the fallback
// tag and cleans up; import of a .tar.zst with --key places every image by
// digest under its release tag, the SBOM referrers and the bundle's DSSE
// signature under sha256-<hex> fallback tags, and the cosign tag, which
// cosign verify accepts there; import again and push, pull and sync (to
// and from distribution v3) keep the same root.
func TestRegistryV28(t *testing.T) {
	source, far := testutil.DistributionV2(t), testutil.DistributionV2(t)
	cosign := testutil.CosignBinary(t)
	root := testutil.ModuleRoot(t)
	key, pub := filepath.Join(root, "tools/cosign/cosign.dev.key"), filepath.Join(root, "tools/cosign/cosign.pub")
	rel, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	signed := rel.Images[0]
	signedRef := "/" + signed.Repository + "@" + signed.Descriptor.Digest.String()
	runCosign := func(args ...string) {
		t.Helper()
		cmd := exec.Command(cosign, append(args, "--allow-insecure-registry", "--allow-http-registry")...)
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=stellaops-dev", "COSIGN_YES=true", "DOCKER_CONFIG="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign %v: %v\n%s", args, err, out)
		}
	}
	runCosign("sign", "--key", key, "--tlog-upload=false", source+signedRef)

	// Connected side, from the v2.8 source: create, sign, pack.
	work := t.TempDir()
	dir, archive := filepath.Join(work, "bundle"), filepath.Join(work, "bundle.tar.zst")
	mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http", "-q")
	if r := stella(t, []string{"COSIGN_PASSWORD=stellaops-dev"}, "mirror", "sign", filepath.Join(dir, "manifest.json"),
		"--key", key, "--output", filepath.Join(dir, "manifest.dsse")); r.code != 0 {
		t.Fatalf("sign: exit %d %s", r.code, r.stderr)
	}
	mustStella(t, "mirror", "pack", dir, "--output", archive)

	// doctor: no referrers API, the fallback tag, and nothing left behind.
	var doc mirror.DoctorResult
	decode(t, mustStella(t, "mirror", "doctor", "--registry", far, "--plain-http", "--format", "json"), &doc)
	if !doc.Usable || doc.Mode == nil || doc.Mode.Referrers != mirror.ReferrersTagIndex || doc.Mode.Uploads != mirror.UploadsChunked {
		t.Errorf("doctor: usable %v, mode %+v; want the fallback tag, chunked uploads", doc.Usable, doc.Mode)
	}
	for _, name := range []string{mirror.CheckChunked, mirror.CheckArtifactType, mirror.CheckFallbackTag, mirror.CheckCleanup} {
		if c := doc.Check(name); c == nil || c.Status != mirror.CheckPass {
			t.Errorf("doctor %s: %+v, want a pass", name, c)
		}
	}

	// import, twice: the second finds everything there.
	importArgs := []string{"mirror", "import", archive, "--registry", far, "--plain-http", "--key", pub, "--format", "json"}
	var placed, again mirror.PlaceResult
	decode(t, mustStella(t, importArgs...), &placed)
	if placed.ReferrersMode != mirror.ReferrersTagIndex || len(placed.Images) != len(rel.Images) {
		t.Fatalf("import: referrers %q, %d images; want the fallback tag, %d", placed.ReferrersMode, len(placed.Images), len(rel.Images))
	}
	decode(t, mustStella(t, importArgs...), &again)
	if again.Root != placed.Root || again.Blobs.Sent != 0 || again.Manifests.Pushed != 0 {
		t.Errorf("import again: root %s (first %s), %+v, %+v; want nothing sent", again.Root, placed.Root, again.Blobs, again.Manifests)
	}

	v28 := registryState{t: t, host: far}
	for _, img := range rel.Images {
		if got := v28.resolve(img.Repository, rel.Spec.Version); got.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s names %s, want %s", img.Repository, rel.Spec.Version, got.Digest, img.Descriptor.Digest)
		}
		if img.Referrer != nil && !v28.hasReferrer(img.Repository, img.Descriptor.Digest, img.Referrer.Digest) {
			t.Errorf("%s: SBOM referrer %s not under the fallback tag", img.Repository, img.Referrer.Digest)
		}
	}
	bundleRepo := "stellaops/mirror-bundle"
	if got := v28.resolve(bundleRepo, rel.Spec.Version); got.Digest != placed.Root {
		t.Errorf("%s:%s names %s, want the root %s", bundleRepo, rel.Spec.Version, got.Digest, placed.Root)
	}
	if !v28.hasArtifact(bundleRepo, placed.Root, bundle.ArtifactTypeDSSE) {
		t.Errorf("the DSSE signature of %s is not under its fallback tag", placed.Root)
	}
	v28.resolve(signed.Repository, bundle.CosignTag(signed.Descriptor.Digest, ".sig"))
	runCosign("verify", "--key", pub, "--insecure-ignore-tlog", far+signedRef)

	// push and pull back, sync to distribution v3 and back to v2.8.
	mustStella(t, "mirror", "push", archive, far+"/rel/bundle", "--plain-http", "--key", pub)
	pulled := filepath.Join(work, "pulled")
	mustStella(t, "mirror", "pull", far+"/rel/bundle:"+rel.Spec.Version, pulled, "--plain-http", "--key", pub)
	mustStella(t, "mirror", "verify", filepath.Join(pulled, "manifest.dsse"), "--key", pub)
	if a, b := readFile(t, dir, "index.json"), readFile(t, pulled, "index.json"); a != b {
		t.Errorf("pulled index.json differs from the bundle's:\n%s\n%s", b, a)
	}
	v3 := testutil.Distribution(t)
	var toV3, back mirror.PlaceResult
	decode(t, mustStella(t, "mirror", "sync", far+"/"+bundleRepo+":"+rel.Spec.Version, v3+"/"+bundleRepo,
		"--images", "--plain-http", "--key", pub, "--format", "json"), &toV3)
	decode(t, mustStella(t, "mirror", "sync", v3+"/"+bundleRepo+":"+rel.Spec.Version, source+"/synced/bundle",
		"--plain-http", "--key", pub, "--format", "json"), &back)
	if toV3.Root != placed.Root || back.Root != placed.Root || back.ReferrersMode != mirror.ReferrersTagIndex {
		t.Errorf("sync: roots %s, %s (mode %q); want %s, by fallback tag", toV3.Root, back.Root, back.ReferrersMode, placed.Root)
	}
	runCosign("verify", "--key", pub, "--insecure-ignore-tlog", v3+signedRef)
	if !(registryState{t: t, host: source}).hasArtifact("synced/bundle", placed.Root, bundle.ArtifactTypeDSSE) {
		t.Errorf("sync to v2.8: the DSSE signature of %s is not under its fallback tag", placed.Root)
	}
}

// decode parses a command's JSON result.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// registryState reads what a registry holds, as a reader without the
// referrers API finds it.
type registryState struct {
	t    *testing.T
	host string
}

// resolve returns what repo:ref names; it fails the test if nothing.
func (s registryState) resolve(repo, ref string) ocispec.Descriptor {
	s.t.Helper()
	r, err := testutil.Client(s.t).Repository(s.host + "/" + repo)
	if err != nil {
		s.t.Fatal(err)
	}
	desc, err := r.Resolve(context.Background(), ref)
	if err != nil {
		s.t.Fatalf("%s/%s:%s: %v", s.host, repo, ref, err)
	}
	return desc
}

// fallback returns the image index the sha256-<hex> tag of subject names.
func (s registryState) fallback(repo string, subject digest.Digest) ocispec.Index {
	s.t.Helper()
	r, err := testutil.Client(s.t).Repository(s.host + "/" + repo)
	if err != nil {
		s.t.Fatal(err)
	}
	_, rc, err := r.FetchReference(context.Background(), bundle.CosignTag(subject, ""))
	if err != nil {
		s.t.Fatalf("fallback tag of %s in %s/%s: %v", subject, s.host, repo, err)
	}
	defer rc.Close()
	var idx ocispec.Index
	if err := json.NewDecoder(rc).Decode(&idx); err != nil {
		s.t.Fatal(err)
	}
	return idx
}

func (s registryState) hasReferrer(repo string, subject, referrer digest.Digest) bool {
	return slices.ContainsFunc(s.fallback(repo, subject).Manifests, func(d ocispec.Descriptor) bool { return d.Digest == referrer })
}

func (s registryState) hasArtifact(repo string, subject digest.Digest, artifactType string) bool {
	return slices.ContainsFunc(s.fallback(repo, subject).Manifests, func(d ocispec.Descriptor) bool { return d.ArtifactType == artifactType })
}
