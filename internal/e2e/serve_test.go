package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// startServe runs mirror.Serve on a free loopback port over the bundle at
// path until the test ends, and returns its host:port.
func startServe(t *testing.T, f *testutil.BundleFixture, path string) (string, mirror.ServeInfo) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan mirror.ServeInfo, 1)
	done := make(chan error, 1)
	go func() {
		done <- mirror.Serve(ctx, mirror.ServeOptions{
			Path: path, VerifySignature: testutil.FakeVerifier(), Now: f.Created,
			Addr: "127.0.0.1:0", Ready: func(i mirror.ServeInfo) { ready <- i },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case info := <-ready:
		return info.Address, info
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("serve did not become ready")
	}
	return "", mirror.ServeInfo{}
}

// served is what one repository of a running serve holds, as the
// conformance suite's read-only mode wants it named.
type served struct {
	tags, manifests, blobs, subjects []string
}

// collect walks a repository from its tags through the registry API:
// every manifest and blob below them, and their referrers.
func collect(t *testing.T, addr, repoName string) served {
	t.Helper()
	ctx := context.Background()
	repo, err := oremote.NewRepository(addr + "/" + repoName)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	var s served
	seen := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor)
	walk = func(d ocispec.Descriptor) {
		if seen[d.Digest] {
			return
		}
		seen[d.Digest] = true
		if !bundle.IsManifestMediaType(d.MediaType) {
			s.blobs = append(s.blobs, d.Digest.String())
			return
		}
		s.manifests = append(s.manifests, d.Digest.String())
		children, err := content.Successors(ctx, repo, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range children {
			walk(c)
		}
		var refs []ocispec.Descriptor
		if err := repo.Referrers(ctx, d, "", func(p []ocispec.Descriptor) error { refs = append(refs, p...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(refs) > 0 {
			s.subjects = append(s.subjects, d.Digest.String())
		}
		for _, r := range refs {
			walk(r)
		}
	}
	if err := repo.Tags(ctx, "", func(tags []string) error { s.tags = append(s.tags, tags...); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, tag := range s.tags {
		d, err := repo.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		walk(d)
	}
	return s
}

// TestConformanceReadOnly runs the OCI distribution-spec conformance suite
// in its read-only mode (no push, no delete) against serve, once per kind
// of repository a bundle has: an image with a referrer, a multi-platform
// index, and the bundle itself with its signature referrer.
func TestConformanceReadOnly(t *testing.T) {
	bin := testutil.Tool(t, "conformance", "STELLA_CONFORMANCE_BIN")
	f := testutil.Bundle(t, sample.Spec{})
	addr, _ := startServe(t, f, f.Tar)
	for _, repo := range []string{"stellaops/authority", "stellaops/scanner-web", bundle.DefaultBundleRepository} {
		t.Run(repo, func(t *testing.T) {
			s := collect(t, addr, repo)
			if len(s.manifests) == 0 || len(s.blobs) == 0 {
				t.Fatalf("nothing served in %s: %+v", repo, s)
			}
			results := t.TempDir()
			cmd := exec.Command(bin)
			cmd.Dir = results
			cmd.Env = append(os.Environ(),
				"OCI_REGISTRY="+addr, "OCI_TLS=disabled", "OCI_VERSION=1.1", "OCI_LOG=warn",
				"OCI_REPO1="+repo, "OCI_REPO2="+repo, "OCI_RESULTS_DIR="+results,
				"OCI_API_PUSH=false", "OCI_API_BLOBS_DELETE=false", "OCI_API_MANIFESTS_DELETE=false", "OCI_API_TAGS_DELETE=false",
				// serve always sends Docker-Content-Digest: hold it to that
				// for blobs. For manifests the read-only mode cannot check it
				// (it keeps the response only when it knows the manifest's
				// bytes); serve's own tests do.
				"OCI_API_BLOBS_DIGEST_HEADER=true",
				"OCI_RO_DATA_TAGS="+strings.Join(s.tags, " "),
				"OCI_RO_DATA_MANIFESTS="+strings.Join(s.manifests, " "),
				"OCI_RO_DATA_BLOBS="+strings.Join(s.blobs, " "),
				"OCI_RO_DATA_REFERRERS="+strings.Join(s.subjects, " "),
			)
			out, err := cmd.CombinedOutput()
			report := string(out)
			t.Logf("conformance suite on %s (%d tags, %d manifests, %d blobs, %d subjects):\n%s",
				repo, len(s.tags), len(s.manifests), len(s.blobs), len(s.subjects), report)
			if !strings.Contains(report, "OCI Conformance Result: Pass") {
				t.Fatalf("conformance suite failed (%v)", err)
			}
			// In read-only mode the suite prints its report, then panics
			// writing results.yaml (a nil test-data entry for the skipped
			// push tests); only that exit is tolerated.
			if err != nil && !strings.Contains(report, "ReportResultsYAML") {
				t.Fatalf("conformance suite: %v", err)
			}
			for _, api := range []string{"Tag listing", "Blob get", "Blob head", "Manifest get by digest",
				"Manifest get by tag", "Manifest head by digest", "Manifest head by tag", "Referrers", "Ping"} {
				if !regexpLine(report, api, "Pass") {
					t.Errorf("API %q did not pass", api)
				}
			}
		})
	}
}

// regexpLine reports whether the suite's report has a line "  <api>....: <status>".
func regexpLine(report, api, status string) bool {
	for _, line := range strings.Split(report, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.TrimRight(name, ".") == api && strings.TrimSpace(value) == status {
			return true
		}
	}
	return false
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// assertSameBlobs checks that the OCI layout at dir holds blobs byte for
// byte equal to the bundle's, and holds want.
func assertSameBlobs(t *testing.T, layoutDir, bundleDir string, want ...digest.Digest) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
		got, _ := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", e.Name()))
		exp, err := os.ReadFile(filepath.Join(bundleDir, "blobs", "sha256", e.Name()))
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("pulled blob %s differs from the bundle's (%v)", e.Name(), err)
		}
	}
	for _, d := range want {
		if !have[d.Encoded()] {
			t.Errorf("pull did not bring %s", d)
		}
	}
}

// TestORASAndCraneAgainstServe drives the oras and crane command lines
// against serve: pull images and the bundle by digest (byte for byte the
// bundle's blobs), pull the bundle's files, and discover its signature
// through the referrers API.
func TestORASAndCraneAgainstServe(t *testing.T) {
	orasBin := testutil.Tool(t, "oras", "STELLA_ORAS_BIN")
	craneBin := testutil.Tool(t, "crane", "STELLA_CRANE_BIN")
	f := testutil.Bundle(t, sample.Spec{})
	addr, info := startServe(t, f, f.Tar)
	bundleRef := addr + "/" + bundle.DefaultBundleRepository + "@" + info.Root.String()

	t.Run("oras discover lists the signature", func(t *testing.T) {
		out := runTool(t, orasBin, "discover", "--plain-http", "--format", "json", bundleRef)
		if !strings.Contains(out, bundle.ArtifactTypeDSSE) {
			t.Fatalf("oras discover did not list the DSSE referrer:\n%s", out)
		}
		out = runTool(t, orasBin, "discover", "--plain-http", "--artifact-type", "application/vnd.example.none", "--format", "json", bundleRef)
		if strings.Contains(out, bundle.ArtifactTypeDSSE) {
			t.Errorf("artifactType filter not applied:\n%s", out)
		}
	})
	t.Run("oras copy the bundle and its referrers", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		runTool(t, orasBin, "copy", "--recursive", "--from-plain-http", bundleRef, "--to-oci-layout", dir+":copy")
		assertSameBlobs(t, dir, f.Dir, info.Root)
		envelope, _ := os.ReadFile(filepath.Join(f.Dir, "manifest.dsse"))
		assertSameBlobs(t, dir, f.Dir, digest.FromBytes(envelope))
	})
	t.Run("oras pull the bundle's files", func(t *testing.T) {
		m := readManifest(t, f.Dir)
		meta := metadataDigest(t, addr, info.Root)
		out := filepath.Join(t.TempDir(), "files")
		runTool(t, orasBin, "pull", "--plain-http", "-o", out, addr+"/"+bundle.DefaultBundleRepository+"@"+meta.String())
		files := append([]bundle.File{{Path: "manifest.json"}}, append(m.Advisories, m.Files...)...)
		for _, file := range files {
			got, err := os.ReadFile(filepath.Join(out, file.Path))
			exp, _ := os.ReadFile(filepath.Join(f.Dir, file.Path))
			if err != nil || !bytes.Equal(got, exp) {
				t.Errorf("oras pull: %s differs from the bundle's (%v)", file.Path, err)
			}
		}
	})
	for _, img := range f.Release.Images {
		ref := fmt.Sprintf("%s/%s@%s", addr, img.Repository, img.Descriptor.Digest)
		t.Run("crane pull "+img.Repository, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			runTool(t, craneBin, "pull", "--insecure", "--format", "oci", ref, dir)
			assertSameBlobs(t, dir, f.Dir, img.Descriptor.Digest)
			if d := runTool(t, craneBin, "digest", "--insecure", ref); strings.TrimSpace(d) != img.Descriptor.Digest.String() {
				t.Errorf("crane digest %s", d)
			}
		})
		t.Run("oras copy "+img.Repository, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			runTool(t, orasBin, "copy", "--recursive", "--from-plain-http", ref, "--to-oci-layout", dir+":copy")
			want := []digest.Digest{img.Descriptor.Digest}
			for dg := range img.Blobs {
				want = append(want, dg)
			}
			assertSameBlobs(t, dir, f.Dir, want...)
		})
	}
}

func readManifest(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// metadataDigest finds the metadata manifest in the served root index.
func metadataDigest(t *testing.T, addr string, root digest.Digest) digest.Digest {
	t.Helper()
	repo, err := oremote.NewRepository(addr + "/" + bundle.DefaultBundleRepository)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	_, rc, err := repo.FetchReference(context.Background(), root.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := bundle.ParseRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bundle.MetadataDescriptor(idx)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}
