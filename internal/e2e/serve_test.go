package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// serving is a running `stella mirror serve`.
type serving struct {
	info mirror.ServeInfo
	cmd  *exec.Cmd
	// exited receives the process's end once.
	exited chan error
	stderr *bytes.Buffer
}

// startServe runs `stella mirror serve` on a free loopback port over the
// bundle at path, trusting pub, and waits for the address it prints. The
// process is stopped with SIGINT when the test ends, if it still runs.
func startServe(t *testing.T, path, pub string) *serving {
	t.Helper()
	return startServeUnder(t, nil, path, pub)
}

// startServeUnder is startServe run by the command wrapper (nohup, say),
// which execs stella as its own process.
func startServeUnder(t *testing.T, wrapper []string, path, pub string) *serving {
	t.Helper()
	argv := append(append([]string{}, wrapper...), stellaBin, "mirror", "serve", path, "--key", pub, "--addr", "127.0.0.1:0", "--format", "json")
	cmd := exec.Command(argv[0], argv[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &serving{cmd: cmd, exited: make(chan error, 1), stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	infos := make(chan mirror.ServeInfo, 1)
	go func() {
		var info mirror.ServeInfo
		if json.NewDecoder(stdout).Decode(&info) == nil {
			infos <- info
		}
		io.Copy(io.Discard, stdout)
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	select {
	case s.info = <-infos:
	case err := <-s.exited:
		t.Fatalf("stella mirror serve exited before it was ready (%v): %s", err, s.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("stella mirror serve did not become ready: %s", s.stderr)
	}
	return s
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

// conformance runs the OCI distribution-spec conformance suite in its
// read-only mode (no push, no delete) against one repository of a running
// serve, naming everything the repository holds.
func conformance(t *testing.T, addr, repo string) {
	bin := tool(t, "conformance")
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
		// serve always sends Docker-Content-Digest: hold it to that for
		// blobs. For manifests the read-only mode cannot check it (it keeps
		// the response only when it knows the manifest's bytes); serve's own
		// tests do.
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
	// In read-only mode the suite prints its report, then panics writing
	// results.yaml (a nil test-data entry for the skipped push tests); only
	// that exit is tolerated.
	if err != nil && !strings.Contains(report, "ReportResultsYAML") {
		t.Fatalf("conformance suite: %v", err)
	}
	for _, api := range []string{"Tag listing", "Blob get", "Blob head", "Manifest get by digest",
		"Manifest get by tag", "Manifest head by digest", "Manifest head by tag", "Referrers", "Ping"} {
		if !regexpLine(report, api, "Pass") {
			t.Errorf("API %q did not pass", api)
		}
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

// assertSameBlobs checks that the OCI layout at dir holds blobs byte for
// byte equal to the bundle's, and holds want. Besides the bundle's blobs, a
// pull of the bundle's referrers brings the files referrer (placed as
// import places it): its manifest, whose subject is the root, and its
// layers, the bundle's own files (public-key.pem, SHA256SUMS, …).
func assertSameBlobs(t *testing.T, layoutDir, bundleDir string, want ...digest.Digest) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[digest.Digest]bool{}
	top, _ := os.ReadDir(bundleDir)
	for _, e := range top {
		if data, err := os.ReadFile(filepath.Join(bundleDir, e.Name())); err == nil {
			files[digest.FromBytes(data)] = true
		}
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
		got, _ := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", e.Name()))
		exp, err := os.ReadFile(filepath.Join(bundleDir, "blobs", "sha256", e.Name()))
		switch {
		case err == nil && bytes.Equal(got, exp):
		case err != nil && files[digest.FromBytes(got)]:
		case err != nil && isFilesReferrer(got):
		default:
			t.Errorf("pulled blob %s is not the bundle's (%v)", e.Name(), err)
		}
	}
	for _, d := range want {
		if !have[d.Encoded()] {
			t.Errorf("pull did not bring %s", d)
		}
	}
}

func isFilesReferrer(data []byte) bool {
	var m ocispec.Manifest
	return json.Unmarshal(data, &m) == nil && m.ArtifactType == bundle.ArtifactTypeFiles && m.Subject != nil
}

// TestServe runs `stella mirror serve` over a signed, packed bundle and
// drives the tools of the field against it: the conformance suite on an
// image with a referrer, a multi-platform index and the bundle repository;
// oras and crane pulling images and the bundle by digest (byte for byte the
// bundle's blobs), oras pulling the bundle's files and discovering its
// signature through the referrers API. Then SIGINT stops it cleanly.
func TestServe(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	srv := startServe(t, archive, pub)
	addr, info := srv.info.Address, srv.info
	bundleRef := addr + "/" + bundle.DefaultBundleRepository + "@" + info.Root.String()

	for _, repo := range []string{"stellaops/authority", "stellaops/scanner-web", bundle.DefaultBundleRepository} {
		t.Run("conformance "+repo, func(t *testing.T) { conformance(t, addr, repo) })
	}
	t.Run("oras discover lists the signature", func(t *testing.T) {
		oras := tool(t, "oras")
		out := run(t, oras, "discover", "--plain-http", "--format", "json", bundleRef)
		if !strings.Contains(out, bundle.ArtifactTypeDSSE) {
			t.Fatalf("oras discover did not list the DSSE referrer:\n%s", out)
		}
		out = run(t, oras, "discover", "--plain-http", "--artifact-type", "application/vnd.example.none", "--format", "json", bundleRef)
		if strings.Contains(out, bundle.ArtifactTypeDSSE) {
			t.Errorf("artifactType filter not applied:\n%s", out)
		}
	})
	t.Run("oras copy the bundle and its referrers", func(t *testing.T) {
		oras := tool(t, "oras")
		out := filepath.Join(t.TempDir(), "layout")
		run(t, oras, "copy", "--recursive", "--from-plain-http", bundleRef, "--to-oci-layout", out+":copy")
		envelope, _ := os.ReadFile(filepath.Join(dir, "manifest.dsse"))
		assertSameBlobs(t, out, dir, info.Root, digest.FromBytes(envelope))
	})
	t.Run("oras pull the bundle's files", func(t *testing.T) {
		oras := tool(t, "oras")
		m := readManifest(t, dir)
		meta := metadataDigest(t, addr, info.Root)
		out := filepath.Join(t.TempDir(), "files")
		run(t, oras, "pull", "--plain-http", "-o", out, addr+"/"+bundle.DefaultBundleRepository+"@"+meta.String())
		files := append([]bundle.File{{Path: "manifest.json"}}, append(m.Advisories, m.Files...)...)
		for _, file := range files {
			got, err := os.ReadFile(filepath.Join(out, file.Path))
			exp, _ := os.ReadFile(filepath.Join(dir, file.Path))
			if err != nil || !bytes.Equal(got, exp) {
				t.Errorf("oras pull: %s differs from the bundle's (%v)", file.Path, err)
			}
		}
	})
	for _, img := range rel.Images {
		ref := fmt.Sprintf("%s/%s@%s", addr, img.Repository, img.Descriptor.Digest)
		t.Run("crane pull "+img.Repository, func(t *testing.T) {
			crane := tool(t, "crane")
			out := filepath.Join(t.TempDir(), "layout")
			run(t, crane, "pull", "--insecure", "--format", "oci", ref, out)
			assertSameBlobs(t, out, dir, img.Descriptor.Digest)
			if d := run(t, crane, "digest", "--insecure", ref); strings.TrimSpace(d) != img.Descriptor.Digest.String() {
				t.Errorf("crane digest %s", d)
			}
		})
		t.Run("oras copy "+img.Repository, func(t *testing.T) {
			oras := tool(t, "oras")
			out := filepath.Join(t.TempDir(), "layout")
			run(t, oras, "copy", "--recursive", "--from-plain-http", ref, "--to-oci-layout", out+":copy")
			want := []digest.Digest{img.Descriptor.Digest}
			for dg := range img.Blobs {
				want = append(want, dg)
			}
			assertSameBlobs(t, out, dir, want...)
		})
	}
	t.Run("SIGINT shuts down cleanly", func(t *testing.T) { assertCleanExit(t, srv, os.Interrupt) })
	t.Run("SIGTERM shuts down cleanly, serving a directory", func(t *testing.T) {
		assertCleanExit(t, startServe(t, dir, pub), syscall.SIGTERM)
	})
	// A closed terminal or SSH session ends serve as Ctrl-C does, not by
	// the signal's default (killed, no clean-up).
	t.Run("SIGHUP shuts down cleanly", func(t *testing.T) {
		// Started with SIGHUP at its default, whatever this test's own
		// (make test under nohup ignores it, and exec keeps that): a
		// caught signal is reset to the default across exec, and Stop
		// puts back what was there.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		s := startServe(t, dir, pub)
		signal.Stop(hup)
		assertCleanExit(t, s, syscall.SIGHUP)
	})
	// Under nohup SIGHUP stays ignored: the kernel's record of the
	// process says so (caught, a SIGHUP would stop serve as cleanly as
	// the SIGTERM after it, which could not tell the two apart).
	t.Run("SIGHUP ignored under nohup", func(t *testing.T) {
		s := startServeUnder(t, []string{"nohup"}, dir, pub)
		hup := uint64(1) << (syscall.SIGHUP - 1)
		if ign, cgt := signalMask(t, s.cmd.Process.Pid, "SigIgn"), signalMask(t, s.cmd.Process.Pid, "SigCgt"); ign&hup == 0 || cgt&hup != 0 {
			t.Fatalf("serve under nohup: SigIgn %x, SigCgt %x: SIGHUP not left ignored", ign, cgt)
		}
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		assertCleanExit(t, s, syscall.SIGTERM)
	})
}

// signalMask reads a signal mask of process pid from /proc (field SigIgn:
// the signals it ignores, SigCgt: those it catches), bit n-1 for signal n.
func signalMask(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// assertCleanExit signals a running serve and checks it exits 0 promptly,
// with nothing on stderr.
func assertCleanExit(t *testing.T, s *serving, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil || s.stderr.Len() != 0 {
			t.Fatalf("serve after %v: %v: %s", sig, err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop after %v", sig)
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

// pullNotRead starts serve over a bundle with a 16 MiB layer and begins a
// pull of that layer that it never reads, on a connection with a small
// receive buffer: the server is busy writing it, so a shutdown waits for
// it (up to 10 s).
func pullNotRead(t *testing.T) (*serving, net.Conn) {
	t.Helper()
	archive, pub, rel := signedBundle(t, sample.Spec{BaseLayerSize: 16 << 20}, ".tar")
	// Started with SIGHUP at its default, whatever this test's own.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	s := startServe(t, archive, pub)
	signal.Stop(hup)
	img := rel.Images[0]
	var layer digest.Digest
	for d, size := range img.Blobs {
		if size > img.Blobs[layer] {
			layer = d
		}
	}
	conn, err := net.Dial("tcp", s.info.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET /v2/%s/blobs/%s HTTP/1.1\r\nHost: %s\r\n\r\n", img.Repository, layer, s.info.Address); err != nil {
		t.Fatal(err)
	}
	// The answer begun: the handler is writing the layer.
	status := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(conn, status); err != nil || string(status) != "HTTP/1.1 200" {
		t.Fatalf("GET layer %s of %s: %q %v", layer, img.Repository, status, err)
	}
	return s, conn
}

// TestServeSecondInterruptStopsAtOnce: the first Ctrl-C lets the run clean
// up (serve waits for requests in flight, up to 10 s); a second one stops
// it at once, as the signal's default does. It was caught and ignored, so
// a clean-up waiting on a client or a registry could be ended only by
// SIGKILL.
func TestServeSecondInterruptStopsAtOnce(t *testing.T) {
	s, _ := pullNotRead(t)
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// The first interrupt handled: serve no longer listens (stella lets
	// the signals go before it cancels the run).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", s.info.Address)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("serve still listens 5 s after SIGINT")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
			t.Fatalf("serve after a second SIGINT: %v, want killed by SIGINT: %s", err, s.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop at a second SIGINT")
	}
}

// TestServeHangUpAfterTerminateIgnored: systemd with SendSIGHUP=yes sends
// SIGHUP right after its SIGTERM; serve goes on draining and exits 0. The
// hang-up, a second signal, killed it mid-drain once a second signal
// ended the run at once.
func TestServeHangUpAfterTerminateIgnored(t *testing.T) {
	s, conn := pullNotRead(t)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	hupBit := uint64(1) << (syscall.SIGHUP - 1)
	deadline := time.Now().Add(5 * time.Second)
	for signalMask(t, s.cmd.Process.Pid, "SigIgn")&hupBit == 0 {
		if time.Now().After(deadline) {
			t.Fatal("serve does not ignore SIGHUP after SIGTERM: a hang-up would kill it mid-drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	conn.Close() // the drain ends
	select {
	case err := <-s.exited:
		if err != nil || s.stderr.Len() != 0 {
			t.Fatalf("serve after SIGTERM and SIGHUP: %v: %s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}
