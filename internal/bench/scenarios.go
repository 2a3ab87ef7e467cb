package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

func (e *env) bundleDir() string       { return filepath.Join(e.work, "bundle") }
func (e *env) archive(s string) string { return filepath.Join(e.work, "bundle"+s) }

// splitList is the volume list of the signed bundle packed as .tar.zst in
// 200 MiB volumes.
func (e *env) splitList() string { return e.archive(".signed.split.tar.zst") + ".volumes.json" }

// exportScenarios: a release from the registry onto media (a tar).
func (e *env) exportScenarios() []scenario {
	out := []scenario{e.exportLimit()}
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		out = append(out, scenario{
			tool: "stella mirror create + pack " + suffix, bytes: e.unique,
			setup: func(int) error {
				os.RemoveAll(e.bundleDir())
				os.Remove(e.archive(suffix))
				return nil
			},
			steps: func(int) [][]string {
				return [][]string{
					{e.stella, "mirror", "create", "--images", e.releaseFile, "--advisories", e.advisories, "--output", e.bundleDir(),
						"--plain-http", "--created", "2026-11-01T00:00:00Z", "--quiet"},
					{e.stella, "mirror", "pack", e.bundleDir(), "--output", e.archive(suffix), "--quiet"},
				}
			},
			disk:    func(int) int64 { return dirSize(e.bundleDir()) },
			outputs: []string{e.bundleDir(), e.archive(suffix)},
		})
	}
	direct := e.archive(".direct.tar")
	out = append(out, scenario{
		tool: "stella mirror create --output .tar --key (one pass, signed)", bytes: e.unique,
		setup:   func(int) error { os.Remove(direct); return e.benchKey() },
		outputs: []string{direct},
		steps: func(int) [][]string {
			return [][]string{{e.stella, "mirror", "create", "--images", e.releaseFile, "--advisories", e.advisories, "--output", direct,
				"--key", e.keyPath(), "--plain-http", "--created", "2026-11-01T00:00:00Z", "--quiet"}}
		},
	})
	if oras, err := exec.LookPath("oras"); err == nil {
		layout, archive := filepath.Join(e.work, "oras-layout"), e.archive(".oras.tar")
		out = append(out, scenario{
			tool: "oras cp --to-oci-layout (per image) + tar", bytes: e.unique, peer: true,
			setup: func(int) error { os.RemoveAll(layout); os.Remove(archive); return nil },
			steps: func(int) [][]string {
				var steps [][]string
				for _, img := range e.rel.Images {
					steps = append(steps, []string{oras, "cp", "--from-plain-http", "-r", e.rel.Ref(img), "--to-oci-layout", layout + ":" + img.Name})
				}
				return append(steps, []string{"tar", "-cf", archive, "-C", layout, "."})
			},
			disk:    func(int) int64 { return dirSize(layout) },
			outputs: []string{layout, archive},
		})
	}
	out = append(out, e.peerExports()...)
	for _, s := range out {
		if s.peer {
			out = append(out, flushedPeer(s))
		}
	}
	return out
}

// flushedPeer is peer export s ending with sync FILE, which fsyncs its
// archive (its last output) as stella's create and pack do theirs before
// they exit: until then the archive is in the page cache, not yet on the
// medium.
func flushedPeer(s scenario) scenario {
	archive := s.outputs[len(s.outputs)-1]
	steps := s.steps
	s.tool += " + sync FILE"
	s.peer, s.flushed = false, true
	s.steps = func(run int) [][]string { return append(steps(run), []string{"sync", archive}) }
	return s
}

// importScenarios: a packed bundle into an empty registry.
func (e *env) importScenarios() []scenario {
	var out []scenario
	var target string
	var stop func()
	fresh := func(int) error {
		if stop != nil {
			stop()
		}
		var err error
		target, stop, err = e.registry("target")
		return err
	}
	pub := filepath.Join(e.work, "bench.pub")
	key := filepath.Join(e.work, "bench.key")
	signed := false
	prepare := func(run int) error {
		if !signed {
			if err := e.signedArchives(key, pub); err != nil {
				return err
			}
			signed = true
		}
		return fresh(run)
	}
	out = append(out, e.ingestLimit("", func() string { return target }, prepare))
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		out = append(out, scenario{
			tool: "stella mirror import " + suffix, bytes: e.unique, setup: prepare,
			steps: func(int) [][]string {
				return [][]string{{e.stella, "mirror", "import", e.archive(".signed" + suffix), "--registry", target, "--plain-http", "--key", pub, "--quiet"}}
			},
		})
	}
	out = append(out, scenario{
		tool: "stella mirror import .tar.zst (200 MiB volumes)", bytes: e.unique, setup: prepare,
		steps: func(int) [][]string {
			return [][]string{{e.stella, "mirror", "import", e.splitList(), "--registry", target, "--plain-http", "--key", pub, "--quiet"}}
		},
	})
	// Another tool's compressed tar has no seek table: import reads it as one
	// stream.
	out = append(out, scenario{
		tool: "stella mirror import .tar.gz (gzip -1's, one stream)", bytes: e.unique, setup: prepare,
		steps: func(int) [][]string {
			return [][]string{{e.stella, "mirror", "import", e.archive(".foreign.tar.gz"), "--registry", target, "--plain-http", "--key", pub, "--quiet"}}
		},
	})
	return append(out, e.peerImports(func() string { return target }, prepare)...)
}

// signedArchives creates, signs and packs the bundle once for the import
// scenarios.
func (e *env) signedArchives(key, pub string) error {
	if _, err := os.Stat(e.splitList()); err == nil {
		return nil
	}
	dir := filepath.Join(e.work, "signed")
	os.RemoveAll(dir)
	if err := e.benchKey(); err != nil {
		return err
	}
	for _, argv := range [][]string{
		{e.stella, "mirror", "create", "--images", e.releaseFile, "--advisories", e.advisories, "--output", dir, "--plain-http", "--quiet"},
		{e.stella, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key, "--output", filepath.Join(dir, "manifest.dsse"), "--quiet"},
		{e.stella, "mirror", "pack", dir, "--output", e.archive(".signed.tar"), "--force"},
		{e.stella, "mirror", "pack", dir, "--output", e.archive(".signed.tar.zst"), "--force"},
		{e.stella, "mirror", "pack", dir, "--output", e.archive(".signed.tar.gz"), "--force"},
		{"sh", "-c", `gzip -1 -c "$0" > "$1"`, e.archive(".signed.tar"), e.archive(".foreign.tar.gz")},
		{e.stella, "mirror", "pack", dir, "--output", e.archive(".signed.split.tar.zst"), "--split", "200M", "--force"},
	} {
		if _, err := timed(argv, e.childEnv); err != nil {
			return err
		}
	}
	return nil
}

// keyPath is the bench's signing key (cosign's encrypted format, password
// in the children's COSIGN_PASSWORD); benchKey makes it once.
func (e *env) keyPath() string { return filepath.Join(e.work, "bench.key") }

func (e *env) benchKey() error {
	if _, err := os.Stat(e.keyPath()); err == nil {
		return nil
	}
	_, err := timed([]string{e.stella, "mirror", "keygen", "--output-key-prefix", filepath.Join(e.work, "bench"), "--force"}, e.childEnv)
	return err
}

// inspectScenarios read and check a signed archive in place: inspect, and
// verify (every entry hashed).
func (e *env) inspectScenarios() []scenario {
	pub := filepath.Join(e.work, "bench.pub")
	signed := func(int) error { return e.signedArchives(filepath.Join(e.work, "bench.key"), pub) }
	var out []scenario
	for _, suffix := range []string{".signed.tar", ".signed.tar.zst"} {
		out = append(out, scenario{
			tool: "stella mirror inspect " + suffix, setup: signed,
			steps: func(int) [][]string {
				return [][]string{{e.stella, "mirror", "inspect", e.archive(suffix), "--quiet"}}
			},
		})
	}
	for _, suffix := range []string{".signed.tar", ".signed.tar.zst", ".signed.tar.gz", ".foreign.tar.gz"} {
		out = append(out, scenario{
			tool: "stella mirror verify " + suffix, bytes: e.unique, setup: signed,
			steps: func(int) [][]string {
				return [][]string{{e.stella, "mirror", "verify", e.archive(suffix), "--key", pub, "--quiet"}}
			},
		})
	}
	return out
}

// floor fetches every unique blob once from the source registry, 8 at a
// time, hashing each: the practical limit of moving this release here.
func (e *env) floor() (float64, error) {
	type job struct {
		url  string
		size int64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for j := range jobs {
				req, _ := http.NewRequest(http.MethodGet, j.url, nil)
				req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					h := sha256.New()
					var n int64
					n, err = io.CopyBuffer(h, resp.Body, buf)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || n != j.size) {
						err = fmt.Errorf("GET %s: %s, %d bytes", j.url, resp.Status, n)
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for dg, b := range e.blobs {
		kind := "blobs"
		if b.manifest {
			kind = "manifests"
		}
		jobs <- job{url: fmt.Sprintf("http://%s/v2/%s/%s/%s", e.source, b.repo, kind, dg), size: b.size}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(e.unique) / (1 << 20) / time.Since(start).Seconds(), nil
}
