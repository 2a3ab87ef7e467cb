package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// blobDesc describes data as a blob.
func blobDesc(data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// TestUploaderSurvivesFaults pushes blobs through a proxy that fails 40% of
// requests (503, reset, truncated answer, stall) into the distribution
// registry, and checks the registry ends up with exactly the bytes.
func TestUploaderSurvivesFaults(t *testing.T) {
	reg := testutil.Distribution(t)
	proxy := testutil.NewFaultProxy(t, reg,
		testutil.FaultNone, testutil.Fault503, testutil.FaultNone, testutil.FaultReset, testutil.FaultNone,
		testutil.FaultNone, testutil.FaultTruncate, testutil.FaultNone, testutil.FaultStall, testutil.FaultNone)
	client := testutil.Client(t)
	up, err := client.UploadRepository(proxy.Host + "/stellaops/upload")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 8}
	direct, _ := client.Repository(reg + "/stellaops/upload")
	ctx := context.Background()
	for i, size := range []int{0, 100, 5<<20 + 17} {
		data := randomBytes(size, uint64(i))
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(size)}
		if err := u.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatalf("push %d bytes: %v", size, err)
		}
		if got, err := sampleRead(ctx, direct, desc); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("registry holds %d different bytes for %s (%v)", len(got), desc.Digest, err)
		}
	}
	if proxy.Injected.Load() == 0 {
		t.Fatal("no fault was injected")
	}
	t.Logf("%d requests, %d faults injected", proxy.Requests.Load(), proxy.Injected.Load())
}

// TestUploaderNeverCompletesBadContent checks that content that does not
// match its descriptor is refused before the upload completes.
func TestUploaderNeverCompletesBadContent(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	up, _ := client.UploadRepository(reg + "/stellaops/bad")
	u := &transfer.Uploader{Repo: up, ChunkSize: 1 << 20}
	ctx := context.Background()
	data := randomBytes(3<<20, 9)
	for name, body := range map[string][]byte{
		"flipped": append(append([]byte{}, data[:len(data)-1]...), data[len(data)-1]^1),
		"short":   data[:len(data)-10],
		"long":    append(append([]byte{}, data...), 1),
	} {
		desc := blobDesc(data)
		err := u.Push(ctx, desc, bytes.NewReader(body))
		if !errors.Is(err, errdef.ErrDigestMismatch) {
			t.Errorf("%s: err = %v, want ErrDigestMismatch", name, err)
		}
		if ok, err := up.Blobs().Exists(ctx, desc); err != nil || ok {
			t.Errorf("%s: blob exists after a refused upload (%v)", name, err)
		}
	}
}

// TestUploaderMount links a blob from one repository into another.
func TestUploaderMount(t *testing.T) {
	reg := testutil.Distribution(t)
	client := testutil.Client(t)
	ctx := context.Background()
	data := randomBytes(1000, 3)
	desc := blobDesc(data)
	a, _ := client.UploadRepository(reg + "/stellaops/a")
	if err := (&transfer.Uploader{Repo: a}).Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	b, _ := client.UploadRepository(reg + "/stellaops/b")
	mounted, err := (&transfer.Uploader{Repo: b}).Mount(ctx, desc, "stellaops/a")
	if err != nil || !mounted {
		t.Fatalf("mount: %v %v", mounted, err)
	}
	if ok, _ := b.Blobs().Exists(ctx, desc); !ok {
		t.Fatal("mounted blob missing")
	}
}

// TestUploaderAtSurvivesFaults is TestUploaderSurvivesFaults for PushAt,
// which holds nothing in memory and re-reads the source for retries.
func TestUploaderAtSurvivesFaults(t *testing.T) {
	reg := testutil.Distribution(t)
	proxy := testutil.NewFaultProxy(t, reg,
		testutil.FaultNone, testutil.FaultReset, testutil.FaultNone, testutil.Fault503, testutil.FaultNone,
		testutil.FaultTruncate, testutil.FaultNone, testutil.FaultNone, testutil.FaultStall, testutil.FaultNone)
	client := testutil.Client(t)
	up, _ := client.UploadRepository(proxy.Host + "/stellaops/upload-at")
	u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 8}
	direct, _ := client.Repository(reg + "/stellaops/upload-at")
	ctx := context.Background()
	for i, size := range []int{0, 1, 3<<20 + 5} {
		data := randomBytes(size, uint64(40+i))
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(size)}
		if err := u.PushAt(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatalf("push %d bytes: %v", size, err)
		}
		got, err := sampleRead(ctx, direct, desc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("registry holds other bytes for %s (%v)", desc.Digest, err)
		}
	}
	// Bad content is never completed.
	data := randomBytes(2<<20, 77)
	desc := blobDesc(data)
	bad := append([]byte{}, data...)
	bad[12345] ^= 1
	if err := u.PushAt(ctx, desc, bytes.NewReader(bad)); !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("bad content: %v", err)
	}
	if ok, _ := direct.Blobs().Exists(ctx, desc); ok {
		t.Fatal("bad content was completed")
	}
}

// TestUploaderAtEarlyAnswers: a registry that answers before it has read a
// request's body (an error at once, a reset) leaves the HTTP client writing
// that body while the retry already reads the source again. Each attempt's
// body is closed off before the next starts (run under -race, as make test
// does, this fails without that), and the blob arrives whole.
func TestUploaderAtEarlyAnswers(t *testing.T) {
	reg := testutil.Distribution(t)
	proxy := testutil.NewFaultProxy(t, reg,
		testutil.FaultNone, testutil.Fault503, testutil.FaultNone, testutil.FaultReset, testutil.FaultNone,
		testutil.FaultNone, testutil.Fault503)
	client := testutil.Client(t)
	up, _ := client.UploadRepository(proxy.Host + "/stellaops/early")
	u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 12}
	direct, _ := client.Repository(reg + "/stellaops/early")
	ctx := context.Background()
	for i := range 3 {
		data := randomBytes(24<<20+i, uint64(90+i))
		desc := blobDesc(data)
		if err := u.PushAt(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatalf("push %d bytes: %v", len(data), err)
		}
		got, err := sampleRead(ctx, direct, desc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("registry holds other bytes for %s (%v)", desc.Digest, err)
		}
	}
	if proxy.InjectedOf(testutil.Fault503) == 0 || proxy.InjectedOf(testutil.FaultReset) == 0 {
		t.Fatalf("faults injected: 503 %d, reset %d", proxy.InjectedOf(testutil.Fault503), proxy.InjectedOf(testutil.FaultReset))
	}
}

func sampleRead(ctx context.Context, repo interface {
	Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error)
}, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestUploaderWithholdsBadContent: fail-closed even against a registry that
// checked no digest. Whatever the path (a stream or a random-access
// source), a blob whose bytes do not match its descriptor never reaches the
// registry whole by the end of a request that would complete the upload
// (PUT ?digest=): the last chunk goes only after the content verified, or
// one byte short.
func TestUploaderWithholdsBadContent(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int64{} // bytes each upload session got
	var completedWhole []string
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/blobs/uploads/") || (r.Method != http.MethodPatch && r.Method != http.MethodPut) {
				next.ServeHTTP(w, r)
				return
			}
			n, _ := io.Copy(io.Discard, r.Body) // as a registry that stores whatever it gets
			mu.Lock()
			received[r.URL.Path] += n
			if r.Method == http.MethodPut && r.URL.Query().Get("digest") != "" && received[r.URL.Path] == 2<<20 {
				completedWhole = append(completedWhole, r.URL.Path)
			}
			got := received[r.URL.Path]
			mu.Unlock()
			// Answered as a registry that stores and completes whatever it
			// gets, checking nothing.
			if r.Method == http.MethodPut {
				w.WriteHeader(http.StatusCreated)
				return
			}
			w.Header().Set("Location", r.URL.Path)
			w.Header().Set("Range", fmt.Sprintf("0-%d", got-1))
			w.WriteHeader(http.StatusAccepted)
		})
	})
	up, err := testutil.Client(t).UploadRepository(host + "/stellaops/withheld")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, ChunkSize: 1 << 20, Attempts: 1}
	data := randomBytes(2<<20, 5)
	desc := blobDesc(data)
	for _, at := range []int{0, 12345, len(data) - 1} {
		bad := append([]byte{}, data...)
		bad[at] ^= 1
		if err := u.PushAt(t.Context(), desc, bytes.NewReader(bad)); !errors.Is(err, errdef.ErrDigestMismatch) {
			t.Errorf("PushAt, byte %d flipped: %v, want a digest mismatch", at, err)
		}
		if err := u.Push(t.Context(), desc, bytes.NewReader(bad)); !errors.Is(err, errdef.ErrDigestMismatch) {
			t.Errorf("Push, byte %d flipped: %v, want a digest mismatch", at, err)
		}
	}
	if len(received) == 0 {
		t.Fatal("no upload reached the registry")
	}
	if len(completedWhole) > 0 {
		t.Fatalf("the registry received a bad blob whole by the end of a completing PUT: %v", completedWhole)
	}
}
