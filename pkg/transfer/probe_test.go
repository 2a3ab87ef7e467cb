package transfer_test

import (
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// ProbeChunks sends one PATCH in a session it then cancels: it finds a
// registry that takes chunks, the smallest chunk one asks for (sending at
// least that), and one that refuses PATCH (a finding, not an error); a
// 404 or 400 is such a finding only when a PATCH in a fresh session gets
// it too (it used to be at once, one fault of the moment reported as a
// registry refusing chunks).
func TestProbeChunks(t *testing.T) {
	tests := []struct {
		name        string
		opts        dialectOpts
		wantChunked bool
		wantRefused int
		wantMin     int64
		wantPatches int64
	}{
		{name: "distribution", wantChunked: true, wantPatches: 1},
		{name: "chunk minimum", opts: dialectOpts{chunkMin: 1 << 20}, wantChunked: true, wantMin: 1 << 20, wantPatches: 1},
		{name: "no PATCH", opts: dialectOpts{noPatch: true}, wantRefused: 405, wantPatches: 1},
		{name: "no PATCH, 501", opts: dialectOpts{refusePatch: 501}, wantRefused: 501, wantPatches: 1},
		// A 404 or 400 is asked again, in a fresh session.
		{name: "no PATCH, 404", opts: dialectOpts{refusePatch: 404}, wantRefused: 404, wantPatches: 2},
		{name: "one PATCH refused, 404", opts: dialectOpts{refusePatch: 404, refuseOnly: 1}, wantChunked: true, wantPatches: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, counts := hostedDialect(t, testutil.Distribution(t), tt.opts)
			up, err := testutil.Client(t).UploadRepository(host + "/stellaops/probe")
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 2}
			got, err := u.ProbeChunks(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got.Chunked != tt.wantChunked || got.Refused != tt.wantRefused || got.ChunkMin != tt.wantMin || got.Location == nil {
				t.Errorf("got %+v, want chunked %v, refused %d, minimum %d, a session", got, tt.wantChunked, tt.wantRefused, tt.wantMin)
			}
			if counts.patches.Load() != tt.wantPatches || counts.short.Load() != 0 {
				t.Errorf("%d PATCHes, %d under the minimum; want %d, none", counts.patches.Load(), counts.short.Load(), tt.wantPatches)
			}
		})
	}
}
