package mirror_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// benchMiB sizes the release of the benchmarks (STELLA_BENCH_MIB, default
// 256).
func benchMiB() int64 {
	if n, err := strconv.ParseInt(os.Getenv("STELLA_BENCH_MIB"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 256
}

// benchSpec is the benchmarks' release: benchMiB of blobs, each image's own
// layer cut into STELLA_BENCH_LAYERS blobs (default 1; 100 gives the many
// small blobs of real images).
func benchSpec() sample.Spec {
	total := benchMiB() << 20
	layers, _ := strconv.Atoi(os.Getenv("STELLA_BENCH_LAYERS"))
	return sample.Spec{BaseLayerSize: total / 6, LayerSize: (total - total/6) / 7, Layers: layers}
}

// BenchmarkCreate measures create from a distribution registry; profile it
// with -cpuprofile.
func BenchmarkCreate(b *testing.B) {
	host := testutil.Distribution(b)
	_, releaseFile, advisories := testutil.PushSample(b, host, benchSpec())
	b.SetBytes(benchMiB() << 20)
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(b.TempDir(), "bundle")
		opts := mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: out, Created: fixedTime, Client: testutil.Client(b)}
		if _, err := mirror.Create(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out)
	}
}

// BenchmarkPack measures pack of a bundle directory to a plain tar (or the
// STELLA_BENCH_SUFFIX codec).
func BenchmarkPack(b *testing.B) {
	host := testutil.Distribution(b)
	_, releaseFile, advisories := testutil.PushSample(b, host, benchSpec())
	dir := filepath.Join(b.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: fixedTime, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	suffix := os.Getenv("STELLA_BENCH_SUFFIX")
	if suffix == "" {
		suffix = ".tar"
	}
	b.SetBytes(benchMiB() << 20)
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "b"+suffix)
		if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out}); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
	}
}

// BenchmarkImport measures import of a packed bundle (STELLA_BENCH_SUFFIX,
// default .tar) into a fresh distribution registry each round.
func BenchmarkImport(b *testing.B) {
	suffix := os.Getenv("STELLA_BENCH_SUFFIX")
	if suffix == "" {
		suffix = ".tar"
	}
	host := testutil.Distribution(b)
	_, releaseFile, advisories := testutil.PushSample(b, host, benchSpec())
	dir := filepath.Join(b.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: fixedTime, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	priv, pub := benchKeys(b)
	if _, err := mirror.Sign(context.Background(), mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: priv, Password: testPass}); err != nil {
		b.Fatal(err)
	}
	archive := filepath.Join(b.TempDir(), "b"+suffix)
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: archive}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchMiB() << 20)
	for b.Loop() {
		b.StopTimer()
		target := testutil.Distribution(b)
		b.StartTimer()
		opts := mirror.ImportOptions{Source: archive, Registry: target, Trust: trustKeys(pub), AllowExpired: true, Client: testutil.Client(b),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		if _, err := mirror.Import(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchKeys(b *testing.B) (priv, pub string) {
	res, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: filepath.Join(b.TempDir(), "bench"), Password: testPass})
	if err != nil {
		b.Fatal(err)
	}
	return res.PrivateKey, res.PublicKey
}

// BenchmarkCreateArchive measures create --output FILE.tar (one pass).
func BenchmarkCreateArchive(b *testing.B) {
	host := testutil.Distribution(b)
	_, releaseFile, advisories := testutil.PushSample(b, host, benchSpec())
	b.SetBytes(benchMiB() << 20)
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "bundle.tar")
		opts := mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: out, Created: fixedTime, Client: testutil.Client(b)}
		if _, err := mirror.Create(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
	}
}

// BenchmarkSync measures sync of a bundle between two distribution
// registries, into a fresh destination each round.
func BenchmarkSync(b *testing.B) {
	src := testutil.Distribution(b)
	_, releaseFile, advisories := testutil.PushSample(b, src, benchSpec())
	dir := filepath.Join(b.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: fixedTime, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: dir, Reference: src + "/stellaops/mirror-bundle", Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchMiB() << 20)
	for b.Loop() {
		b.StopTimer()
		dst := testutil.Distribution(b)
		b.StartTimer()
		opts := mirror.SyncOptions{Now: testNow, Source: src + "/stellaops/mirror-bundle:2025.10.0", Destination: dst + "/stellaops/mirror-bundle", Client: testutil.Client(b),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		if _, err := mirror.Sync(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushRoundTrips measures a push of many small blobs (8 MiB in 720
// blobs, each image's own layer cut in 100) into an in-process registry
// that answers each request after a round trip (STELLA_BENCH_RTT, default
// 5ms): the chain of requests one after another, not the bytes, sets its
// time. It reports the time in round trips.
func BenchmarkPushRoundTrips(b *testing.B) {
	rtt := benchRTT()
	src := testutil.Registry(b)
	_, releaseFile, advisories := testutil.PushSample(b, src, sample.Spec{BaseLayerSize: 1 << 20, LayerSize: 1 << 20, Layers: 100})
	dir := filepath.Join(b.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), mirror.CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: fixedTime, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	late := lateBy(rtt)
	for b.Loop() {
		b.StopTimer()
		dst := testutil.RegistryWrapped(b, late)
		b.StartTimer()
		if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: dir, Reference: dst + "/stellaops/mirror-bundle", Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
	}
	reportRoundTrips(b, rtt)
}
