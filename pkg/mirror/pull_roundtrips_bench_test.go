package mirror_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// BenchmarkPullRoundTrips measures a keyed pull of the sample bundle, its
// registry answering each request after a round trip (STELLA_BENCH_RTT,
// default 5ms): the root, its metadata and signing, its documents and its
// blobs. It reports the time in round trips.
func BenchmarkPullRoundTrips(b *testing.B) {
	rtt := benchRTT()
	late := lateBy(rtt)
	s := newSignedSample(b, sample.Spec{}, 0)
	ctx := context.Background()
	ref := testutil.RegistryWrapped(b, late) + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Client: testutil.Client(b)}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(b.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(b)}); err != nil {
			b.Fatal(err)
		}
	}
	reportRoundTrips(b, rtt)
}
