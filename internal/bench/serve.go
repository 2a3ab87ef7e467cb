package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/layout"
)

// serveScenarios: the bundle pulled by clients straight from the media.
// Each pulls every unique blob of the release (manifests included) with 8
// parallel GETs and hashes it, as the floor does: from stella mirror serve
// over the plain tar; from distribution after stella mirror import (the
// peer); and read from the tar on disk, with no HTTP at all (the limit).
// serve's start (the signature, then every blob hashed, then listen) is
// timed with verify.
// The RSS of the serve rows is serve's own peak.
func (e *env) serveScenarios() []scenario {
	var (
		pub, tarPath string
		srv          *serving
		target       string
		stopTarget   func()
	)
	prepare := func() error {
		if pub != "" {
			return nil
		}
		var err error
		pub, err = e.signedOnce()
		tarPath = e.archive(".signed.tar")
		return err
	}
	startServe := func(int) error {
		if srv != nil {
			return nil
		}
		if err := prepare(); err != nil {
			return err
		}
		var err error
		srv, err = e.startServe(tarPath, pub)
		return err
	}
	importOnce := func(int) error {
		if target != "" {
			return nil
		}
		if err := prepare(); err != nil {
			return err
		}
		var err error
		if target, stopTarget, err = e.registry("serve-peer"); err != nil {
			return err
		}
		_, err = timed([]string{e.stella, "mirror", "import", tarPath, "--registry", target, "--plain-http", "--key", pub, "--quiet"}, e.childEnv)
		return err
	}
	var started *serving
	return []scenario{
		{
			group: "inspect, verify", tool: "stella mirror serve .tar: verify, listen", bytes: e.unique,
			setup: func(int) error {
				if err := prepare(); err != nil {
					return err
				}
				if started != nil {
					started.stop()
				}
				return nil
			},
			inproc: func(int) error {
				var err error
				started, err = e.startServe(tarPath, pub)
				return err
			},
			rss:      func() int64 { return started.peakRSS() },
			teardown: func() { started.stop() },
		},
		{
			tool: "pull every blob from stella mirror serve .tar", bytes: e.unique, setup: startServe,
			inproc:   func(int) error { return e.pullAll("http://" + srv.addr) },
			rss:      func() int64 { return srv.peakRSS() },
			teardown: func() { srv.stop() },
		},
		{
			tool: "pull every blob from distribution (after import)", bytes: e.unique, peer: true, setup: importOnce,
			inproc: func(int) error { return e.pullAll("http://" + target) },
			teardown: func() {
				if stopTarget != nil {
					stopTarget()
				}
			},
		},
		{
			tool: "limit: read every blob from the .tar + hash", bytes: e.unique, limit: true,
			setup:  func(int) error { return prepare() },
			inproc: func(int) error { return e.readAll(tarPath) },
		},
	}
}

// signedOnce makes the signed archives the import scenarios use, unless
// they already did, and returns the public key.
func (e *env) signedOnce() (string, error) {
	key, pub := filepath.Join(e.work, "bench.key"), filepath.Join(e.work, "bench.pub")
	if _, err := os.Stat(e.archive(".signed.tar")); err == nil {
		return pub, nil
	}
	return pub, e.signedArchives(key, pub)
}

// serving is a running stella mirror serve.
type serving struct {
	cmd  *exec.Cmd
	addr string
	once sync.Once
}

// startServe starts stella mirror serve over path on a free port and waits
// until it is ready (it prints its address).
func (e *env) startServe(path, pub string) (*serving, error) {
	cmd := exec.Command(e.stella, "mirror", "serve", path, "--key", pub, "--addr", "127.0.0.1:0", "--format", "json")
	cmd.Env = append(os.Environ(), e.childEnv...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serving{cmd: cmd}
	var info struct {
		Address string `json:"address"`
	}
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&info); err != nil {
		s.stop()
		return nil, fmt.Errorf("stella mirror serve did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	s.addr = info.Address
	return s, nil
}

// stop ends the server with SIGINT, as an operator does.
func (s *serving) stop() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
	})
}

// peakRSS reads the live server's peak resident set (VmHWM) in KiB.
func (s *serving) peakRSS() int64 {
	if s == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kib int64
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kib); err == nil {
			return kib
		}
	}
	return 0
}

// manifestAccept is the Accept header of a manifest GET.
var manifestAccept = ocispec.MediaTypeImageManifest + "," + ocispec.MediaTypeImageIndex + "," +
	"application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json"

// pullAll GETs every unique blob of the release from the registry at base,
// 8 at a time, and hashes it. A manifest that the registry does not serve
// as a blob (distribution keeps pushed manifests apart) is fetched from
// /manifests/.
func (e *env) pullAll(base string) error {
	return e.parallel(func(dg digest.Digest, b blobAt, buf []byte) error {
		resp, err := http.Get(fmt.Sprintf("%s/v2/%s/blobs/%s", base, b.repo, dg))
		if err == nil && resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v2/%s/manifests/%s", base, b.repo, dg), nil)
			req.Header.Set("Accept", manifestAccept)
			resp, err = http.DefaultClient.Do(req)
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s/%s: %s", b.repo, dg, resp.Status)
		}
		return hashTo(dg, resp.Body, buf)
	})
}

// readAll reads every unique blob from its section of the tar, 8 at a
// time, and hashes it.
func (e *env) readAll(tarPath string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	x, err := layout.IndexTar(f, st.Size())
	if err != nil {
		return err
	}
	return e.parallel(func(dg digest.Digest, b blobAt, buf []byte) error {
		sr, err := x.Blob(ocispec.Descriptor{Digest: dg, Size: b.size})
		if err != nil {
			return err
		}
		return hashTo(dg, sr, buf)
	})
}

// parallel calls fn for every unique blob, 8 at a time, each worker with
// its own 256 KiB buffer.
func (e *env) parallel(fn func(digest.Digest, blobAt, []byte) error) error {
	type job struct {
		dg digest.Digest
		b  blobAt
	}
	jobs := make(chan job)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			var first error
			for j := range jobs {
				if first == nil {
					first = fn(j.dg, j.b, buf)
				}
			}
			errs <- first
		})
	}
	for dg, b := range e.blobs {
		jobs <- job{dg, b}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func hashTo(dg digest.Digest, r io.Reader, buf []byte) error {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, buf); err != nil {
		return err
	}
	return checkHash(dg, h)
}

// checkHash fails unless h, a SHA-256 of the content, matches dg.
func checkHash(dg digest.Digest, h hash.Hash) error {
	if got := digest.NewDigest(digest.SHA256, h); got != dg {
		return fmt.Errorf("%s: content hashes to %s", dg, got)
	}
	return nil
}
