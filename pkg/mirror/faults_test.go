package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	mremote "github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Faults: every operation that talks to registries goes through a proxy
// that injects each kind of fault (503, 429 with Retry-After, reset,
// truncated answer, stall, hang, lost answer, upload cut) into one request in five (testutil.Faults), and
// must end with the same bytes as without faults; and give up, with an
// error naming the registry, after a bounded number of requests when the
// registry stays down. TestImportThroughFaults (import_test.go) does the
// same for import.

// faultRetries is the retry budget of the tests through faults: enough
// that one request in five failing never exhausts it.
const faultRetries = 5

// faultyProxy starts a proxy to host that injects every kind of fault.
func faultyProxy(t *testing.T, host string) *testutil.FaultProxy {
	return testutil.NewFaultProxy(t, host, testutil.Faults()...)
}

// faultIdle is the idle timeout of the tests through faults: a hung
// connection is dropped after it.
const faultIdle = time.Second

func faultyClient(t *testing.T) (*mremote.Client, transfer.Options) {
	return testutil.ClientWith(t, mremote.Options{Retries: faultRetries, IdleTimeout: faultIdle}), transfer.Options{Backoff: time.Millisecond, Attempts: faultRetries + 1}
}

// downClient gives up sooner: the registry stays down.
func downClient(t *testing.T) (*mremote.Client, transfer.Options) {
	return testutil.ClientWith(t, mremote.Options{Retries: 2, IdleTimeout: faultIdle}), transfer.Options{Backoff: time.Millisecond, Attempts: 3}
}

// checkFaults checks that the proxies, together, injected every kind of
// fault (an upload cut if they saw uploads), into at least a tenth of the
// requests.
func checkFaults(t *testing.T, proxies ...*testutil.FaultProxy) {
	t.Helper()
	var requests, injected, uploads int64
	for _, p := range proxies {
		requests += p.Requests.Load()
		injected += p.Injected.Load()
		uploads += p.Uploads.Load()
	}
	kinds := []testutil.Fault{testutil.Fault503, testutil.Fault429, testutil.FaultReset, testutil.FaultTruncate, testutil.FaultStall, testutil.FaultHang, testutil.FaultLoseAnswer}
	if uploads > 0 {
		kinds = append(kinds, testutil.FaultCutUpload)
	}
	for _, f := range kinds {
		var n int64
		for _, p := range proxies {
			n += p.InjectedOf(f)
		}
		if n == 0 {
			t.Errorf("no fault of kind %d took effect in %d requests", f, requests)
		}
	}
	if injected*10 < requests {
		t.Errorf("%d faults injected into %d requests", injected, requests)
	}
	t.Logf("%d faults injected into %d requests", injected, requests)
}

// givesUp runs op against a proxy whose registry is down and checks that
// it fails as unavailable, naming the registry, after a bounded number of
// requests.
func givesUp(t *testing.T, p *testutil.FaultProxy, what string, op func() error) {
	t.Helper()
	p.Down.Store(true)
	defer p.Down.Store(false)
	before := p.Requests.Load()
	start := time.Now()
	err := op()
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), p.Host) {
		t.Errorf("%s, registry down: err = %v, want ErrUnavailable naming %s", what, err, p.Host)
	}
	// The first request that fails for good ends the operation; a few more
	// are in flight at once.
	if n := p.Requests.Load() - before; n > int64(transfer.DefaultConcurrency*3) {
		t.Errorf("%s, registry down: %d requests before giving up", what, n)
	}
	t.Logf("%s gave up after %d requests, %s", what, p.Requests.Load()-before, time.Since(start).Round(time.Millisecond))
}

// TestCreateThroughFaults creates a bundle from a source registry behind
// faults: the same bytes as without them.
func TestCreateThroughFaults(t *testing.T) {
	t.Parallel()
	source := testutil.Distribution(t)
	proxy := faultyProxy(t, source)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{BaseLayerSize: 1 << 20})
	// The release names the proxy, so that every pull goes through it.
	data, err := os.ReadFile(releaseFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(releaseFile, []byte(strings.ReplaceAll(string(data), source, proxy.Host)), 0o644); err != nil {
		t.Fatal(err)
	}
	create := func(client *mremote.Client, topts transfer.Options) (string, error) {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseFile, advisories, out)
		opts.Client, opts.Transfer = client, topts
		_, err := mirror.Create(context.Background(), opts)
		return out, err
	}
	client, topts := faultyClient(t)
	faulty, err := create(client, topts)
	if err != nil {
		t.Fatalf("create through faults: %v", err)
	}
	checkFaults(t, proxy)
	proxy.SetFaults()
	clean, err := create(testutil.Client(t), transferOpts())
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, clean, faulty)
	down, dopts := downClient(t)
	givesUp(t, proxy, "create", func() error { _, err := create(down, dopts); return err })
}

// TestPushSyncThroughFaults pushes a bundle into a registry behind faults,
// syncs it from there into another registry behind faults, and pulls it
// back (without faults): the directory create and sign wrote, file for
// file.
func TestPushSyncThroughFaults(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 1 << 20}, 0)
	ctx := context.Background()
	first, second := testutil.Distribution(t), testutil.Distribution(t)
	p1, p2 := faultyProxy(t, first), faultyProxy(t, second)
	client, topts := faultyClient(t)
	archive := s.pack(t, ".tar.zst")
	push := func() error {
		_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: archive, Reference: p1.Host + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: client, Transfer: topts})
		return err
	}
	if err := push(); err != nil {
		t.Fatalf("push through faults: %v", err)
	}
	sync := func() error {
		_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: p1.Host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version,
			Destination: p2.Host + "/mirror/bundles", Trust: trustKeys(s.pub), Images: true, Client: client, Transfer: topts})
		return err
	}
	if err := sync(); err != nil {
		t.Fatalf("sync through faults: %v", err)
	}
	checkFaults(t, p1, p2)
	for host, ref := range map[string]string{first: "/stellaops/mirror-bundle:", second: "/mirror/bundles:"} {
		out := filepath.Join(t.TempDir(), "pulled")
		if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: host + ref + s.rel.Spec.Version, Output: out,
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
			t.Fatal(err)
		}
		assertSameTree(t, s.dir, out)
	}
	client, topts = downClient(t)
	givesUp(t, p1, "push", push)
	givesUp(t, p1, "sync from a registry that is down", sync)
	givesUp(t, p2, "sync to a registry that is down", sync)
}

// TestConcurrentImports imports one bundle twice at the same time into one
// registry, from its archive and its directory: both end well, and the
// registry holds the release, every tag on the right digest, every blob
// present and byte for byte the source's.
func TestConcurrentImports(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 1 << 20}, 0)
	target := testutil.Distribution(t)
	sources := []string{s.foreign(t, ".tar.gz"), s.dir}
	results := make([]*mirror.PlaceResult, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, src := range sources {
		wg.Go(func() {
			opts := importOpts(t, src, target, s.pub)
			opts.AdvisoriesDir = filepath.Join(t.TempDir(), "advisories")
			<-start
			results[i], errs[i] = mirror.Import(context.Background(), opts)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("import of %s: %v", filepath.Base(sources[i]), err)
		}
		assertImported(t, s, target, results[i])
	}
	if results[0].Root != results[1].Root {
		t.Errorf("roots %s and %s", results[0].Root, results[1].Root)
	}
	// A third import finds everything in place.
	again, err := mirror.Import(context.Background(), importOpts(t, s.dir, target, s.pub))
	if err != nil || again.Blobs.Sent != 0 || again.Manifests.Pushed != 0 {
		t.Errorf("import after the concurrent ones: %+v %+v (%v)", again.Blobs, again.Manifests, err)
	}
}
