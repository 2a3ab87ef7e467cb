package mirror_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// benchEnvInt is the integer in the environment variable name, or def.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkScale runs every operation once per round over a release of
// many small images (STELLA_BENCH_IMAGES, default 100; each an index of two
// platforms with an SBOM referrer, in its own repository) and many small
// advisory files (STELLA_BENCH_ADVISORIES, default 10 per image), so that
// the cost per image, not per byte, shows. Compare N and 4N:
//
//	STELLA_BENCH_IMAGES=100 go test -run '^$' -bench Scale -benchtime 1x ./pkg/mirror
//	STELLA_BENCH_IMAGES=400 go test -run '^$' -bench Scale -benchtime 1x ./pkg/mirror
//
// A time that grows 16-fold where the images grow 4-fold is a quadratic
// loop; profile the sub-benchmark with -cpuprofile. STELLA_BENCH_REGISTRY=
// distribution uses the CNCF registry binary instead of the in-process one
// (behind a proxy that counts its requests; cpu-ms/op is then stella's and
// the proxy's CPU, without the registry's).
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	n := benchEnvInt("STELLA_BENCH_IMAGES", 100)
	// requests counts what every registry of the benchmark was asked, so
	// that a storm of requests shows as requests per round.
	var requests atomic.Int64
	counting := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			h.ServeHTTP(w, r)
		})
	}
	registry := func(b testing.TB) string { return testutil.RegistryWrapped(b, counting) }
	if os.Getenv("STELLA_BENCH_REGISTRY") == "distribution" {
		// Counted through a proxy in this process: its CPU counts in
		// cpu-ms/op, the registry's own does not.
		registry = func(b testing.TB) string { return testutil.ProxyWrapped(b, testutil.Distribution(b), counting) }
	}
	src := registry(b)
	spec := sample.Spec{Images: n, Advisories: benchEnvInt("STELLA_BENCH_ADVISORIES", 10*n), BaseLayerSize: 1 << 10, LayerSize: 256}
	_, releaseFile, advisories := testutil.PushSample(b, src, spec)
	priv, pub := benchKeys(b)
	tmp := b.TempDir()
	dir := filepath.Join(tmp, "bundle")
	archive := filepath.Join(tmp, "bundle.tar")
	bundleRef := src + "/stellaops/mirror-bundle"

	// Each step builds on the ones before it (create, then sign, then pack
	// ...), so they run in this order and each once per round.
	steps := []struct {
		name string
		run  func(b *testing.B) error
	}{
		{"create", func(b *testing.B) error {
			os.RemoveAll(dir)
			_, err := mirror.Create(ctx, mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: fixedTime, Client: testutil.Client(b)})
			return err
		}},
		{"sign", func(b *testing.B) error {
			_, err := mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass})
			return err
		}},
		{"verify", func(b *testing.B) error {
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub), Now: testNow})
			return err
		}},
		{"verify-checksums", func(b *testing.B) error {
			_, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
			return err
		}},
		{"create-delta", func(b *testing.B) error {
			out := filepath.Join(tmp, "delta")
			os.RemoveAll(out)
			_, err := mirror.Create(ctx, mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: out, Created: fixedTime, Generation: fixedTime.Unix() + 1,
				Base: dir, BaseTrust: trustKeys(pub), Client: testutil.Client(b)})
			return err
		}},
		{"pack", func(b *testing.B) error {
			os.Remove(archive)
			_, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: archive})
			return err
		}},
		{"inspect-dir", func(b *testing.B) error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: dir, Trust: trustKeys(pub), Now: testNow})
			return err
		}},
		{"inspect-tar", func(b *testing.B) error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: archive, Trust: trustKeys(pub), Now: testNow})
			return err
		}},
		{"serve-open", func(b *testing.B) error {
			s, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: archive, Trust: trustKeys(pub), Now: testNow})
			if err == nil {
				s.Close()
			}
			return err
		}},
		{"push", func(b *testing.B) error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: bundleRef, Trust: trustKeys(pub), Client: testutil.Client(b)})
			return err
		}},
		{"pull", func(b *testing.B) error {
			out := filepath.Join(tmp, "pulled")
			os.RemoveAll(out)
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: bundleRef + ":2025.10.0", Output: out, Trust: trustKeys(pub), Client: testutil.Client(b)})
			return err
		}},
		{"sync", func(b *testing.B) error {
			b.StopTimer()
			dst := registry(b)
			b.StartTimer()
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: bundleRef + ":2025.10.0", Destination: dst + "/stellaops/mirror-bundle", Trust: trustKeys(pub), Images: true, Client: testutil.Client(b)})
			return err
		}},
		{"import", func(b *testing.B) error {
			b.StopTimer()
			dst := registry(b)
			b.StartTimer()
			_, err := mirror.Import(ctx, mirror.ImportOptions{Source: archive, Registry: dst, Trust: trustKeys(pub), Now: testNow, Client: testutil.Client(b)})
			return err
		}},
		{"inventory", func(b *testing.B) error {
			_, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: src, Output: filepath.Join(tmp, "inventory.json"), Now: testNow, Client: testutil.Client(b)})
			return err
		}},
		{"catalog", func(b *testing.B) error {
			_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: bundleRef, Key: priv, Password: testPass, Now: testNow, Client: testutil.Client(b)})
			return err
		}},
	}
	for _, s := range steps {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			before, cpu := requests.Load(), cpuTime()
			for b.Loop() {
				if err := s.run(b); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(requests.Load()-before)/float64(b.N), "requests/op")
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far;
// with the in-process registries it counts their work too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
