package mirror_test

import (
	"context"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// BenchmarkSyncOverHeldRoundTrips measures a keyed sync of a release into
// a destination that holds the release before it (every sync after the
// first), both registries answering each request after a round trip
// (STELLA_BENCH_RTT, default 5ms): the generation check reads the
// destination's tags and verifies its newest bundle's signing, a chain of
// requests beside the source's. It reports the time in round trips.
func BenchmarkSyncOverHeldRoundTrips(b *testing.B) {
	rtt := benchRTT()
	late := lateBy(rtt)
	held, newer := releaseAndNext(b)
	ctx := context.Background()
	src := testutil.RegistryWrapped(b, late) + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: newer.dir, Reference: src, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		dst := testutil.RegistryWrapped(b, late) + "/stellaops/mirror-bundle"
		if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: held.dir, Reference: dst, Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: src + ":2025.11.0", Destination: dst,
			Trust: trustKeys(held.pub), Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
	}
	reportRoundTrips(b, rtt)
}

// BenchmarkImportOverHeldRoundTrips measures a keyed import from media of
// a release into a registry that holds the release before it (every
// import after the first), the registry answering each request after a
// round trip (STELLA_BENCH_RTT, default 5ms): the generation check reads
// the registry's tags and verifies its newest bundle's signing, while the
// placement asks what the registry holds. It reports the time in round
// trips.
func BenchmarkImportOverHeldRoundTrips(b *testing.B) {
	rtt := benchRTT()
	late := lateBy(rtt)
	held, newer := releaseAndNext(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dst := testutil.RegistryWrapped(b, late)
		if _, err := mirror.Import(ctx, mirror.ImportOptions{Now: testNow, Source: held.dir, Registry: dst, Trust: trustKeys(held.pub), Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := mirror.Import(ctx, mirror.ImportOptions{Now: testNow, Source: newer.dir, Registry: dst, Trust: trustKeys(held.pub), Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
	}
	reportRoundTrips(b, rtt)
}
