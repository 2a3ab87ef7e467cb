package transfer_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A registry's answer cut short fails the read at the cut, and the next
// read, from the cut on, asks again. oras-go's ranged reader skips a seek
// to where it already stands, so sync's retry, resuming where the target's
// upload ended (at the cut), read the spent answer again and again until
// it gave up.
func TestSeekReaderAtAsksAgainAfterACut(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100)
	desc := pushBlob(t, reg+"/stellaops/cut", data)
	proxy := testutil.NewFaultProxy(t, reg, testutil.FaultTruncate, testutil.FaultNone, testutil.FaultNone)
	repo, _ := client.Repository(proxy.Host + "/stellaops/cut")
	rc, err := repo.Fetch(remote.Streaming(ctx), desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatal("the registry's answer cannot seek")
	}
	s := transfer.NewSeekReaderAt(rs, desc.Size)
	got := make([]byte, len(data))
	n, err := s.ReadAt(got, 0)
	if err == nil || n != len(data)/2 {
		t.Fatalf("first read: %d bytes, %v: want the cut at %d", n, err, len(data)/2)
	}
	m, err := s.ReadAt(got[n:], int64(n))
	if (err != nil && err != io.EOF) || n+m != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("read from the cut: %d bytes, %v", m, err)
	}
	if proxy.InjectedOf(testutil.FaultTruncate) != 1 || proxy.Requests.Load() != 2 {
		t.Errorf("%d truncations, %d requests: want the cut answer and one ranged request", proxy.InjectedOf(testutil.FaultTruncate), proxy.Requests.Load())
	}
}

// pushBlob puts data into the repository ref (host/name) as a blob, and
// returns its descriptor.
func pushBlob(t *testing.T, ref string, data []byte) ocispec.Descriptor {
	t.Helper()
	desc := blobDesc(data)
	repo, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return desc
}
