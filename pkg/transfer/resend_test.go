package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// rereadingSource serves data, and every byte read a second time or more
// inverted when flip is set: media that read differently after a fault.
// A read of more than cutAt bytes (when set) ends after cutAt of them with
// an error, like a network source whose answer is cut short.
type rereadingSource struct {
	data  []byte
	flip  bool
	cutAt int

	mu      sync.Mutex
	seen    []bool
	reReads int
	cuts    int
}

func (s *rereadingSource) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	var cut error
	if s.cutAt > 0 && len(p) > s.cutAt {
		p, cut = p[:s.cutAt], io.ErrUnexpectedEOF
		s.cuts++
	}
	n := copy(p, s.data[off:])
	for i := range n {
		if s.seen[off+int64(i)] {
			s.reReads++
			if s.flip {
				p[i] ^= 0xff
			}
		}
		s.seen[off+int64(i)] = true
	}
	switch {
	case cut != nil:
		return n, cut
	case n < len(p):
		return n, io.EOF
	}
	return n, nil
}

// Bytes sent again after a fault are checked against those first sent: a
// source that reads otherwise the second time fails the upload, and a
// registry that checks no digest never completes the mixture. It used to
// complete it: only the first read was hashed.
func TestUploaderAtChecksResentBytes(t *testing.T) {
	data := randomBytes(2<<20+77, 31)
	desc := blobDesc(data)
	for _, tt := range []struct {
		flip  bool
		cutAt int
	}{{false, 0}, {true, 0}, {false, 256 << 10}, {true, 256 << 10}} {
		t.Run(fmt.Sprintf("flip=%v,cut=%d", tt.flip, tt.cutAt), func(t *testing.T) {
			// The registry drops the first request after 1.5 MiB, the
			// second after 100 KiB more: the resend's check reads the block
			// [1 MiB, 1.5 MiB) again, and then carries it.
			host, completed := droppingRegistry(t, 1536<<10, 100<<10)
			up, err := testutil.Client(t).UploadRepository(host + "/stellaops/resent")
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 5}
			src := &rereadingSource{data: data, flip: tt.flip, cutAt: tt.cutAt, seen: make([]bool, len(data))}
			err = u.PushAt(t.Context(), desc, src)
			if src.reReads == 0 {
				t.Fatal("nothing was read twice: the registry's drops did not make the client send again")
			}
			for _, got := range completed() {
				if !bytes.Equal(got, data) {
					t.Fatalf("the registry completed the upload with other bytes than the blob's (%d of %d bytes)", len(got), len(data))
				}
			}
			switch {
			case tt.flip && !errors.Is(err, errdef.ErrDigestMismatch):
				t.Fatalf("bytes read otherwise the second time: %v, want a digest mismatch", err)
			case !tt.flip && (err != nil || len(completed()) != 1):
				t.Fatalf("a source that reads the same twice: %v, %d uploads completed", err, len(completed()))
			}
			if tt.cutAt > 0 && src.cuts == 0 {
				t.Fatal("no read again was cut short")
			}
			t.Logf("%d bytes read again, %d reads cut; %v", src.reReads, src.cuts, err)
		})
	}
}

// The same against the distribution registry, through a proxy that lets
// it take half of an upload's body and then drops the connection: the
// upload resumes from distribution's own offset (inside a MiB block, so
// the block's start is read again for the check) and the registry ends up
// with the blob, or, from media that read otherwise the second time,
// without it. (distribution checks the digest itself: droppingRegistry's
// test above is the one that needs the client's check.)
func TestUploaderAtResumesACutUpload(t *testing.T) {
	reg := testutil.Distribution(t)
	data := randomBytes(5<<20+99, 57)
	desc := blobDesc(data)
	for _, flip := range []bool{false, true} {
		t.Run(fmt.Sprintf("flip=%v", flip), func(t *testing.T) {
			proxy := testutil.NewFaultProxy(t, reg, testutil.FaultNone, testutil.FaultCutUpload, testutil.FaultNone, testutil.FaultNone)
			client := testutil.Client(t)
			repo := fmt.Sprintf("stellaops/cut-%v", flip)
			up, err := client.UploadRepository(proxy.Host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			deletes := &answers{base: up.Client, method: http.MethodDelete}
			up.Client = deletes
			u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 4}
			src := &rereadingSource{data: data, flip: flip, seen: make([]bool, len(data))}
			err = u.PushAt(t.Context(), desc, src)
			if proxy.InjectedOf(testutil.FaultCutUpload) < 1 {
				t.Fatalf("%d uploads cut, want 1", proxy.InjectedOf(testutil.FaultCutUpload))
			}
			if src.reReads == 0 {
				t.Fatal("nothing was read twice: the upload did not resume inside what it had sent")
			}
			direct, _ := client.Repository(reg + "/" + repo)
			ok, eerr := direct.Exists(t.Context(), desc)
			if eerr != nil {
				t.Fatal(eerr)
			}
			switch {
			case flip && (!errors.Is(err, errdef.ErrDigestMismatch) || ok):
				t.Fatalf("bytes read otherwise the second time: %v, blob in the registry: %v; want a digest mismatch and no blob", err, ok)
			case !flip && (err != nil || !ok):
				t.Fatalf("PushAt: %v, blob in the registry: %v", err, ok)
			}
			if flip && deletes.last() != http.StatusNoContent {
				// distribution keeps an abandoned upload for a week unless
				// it is cancelled, and refuses (416) a cancel on a Location
				// whose state is stale, as after a request broke off.
				t.Fatalf("the abandoned upload's cancel was answered %d (DELETEs: %v), want 204", deletes.last(), deletes.codes)
			}
			if !flip {
				if got, err := sampleRead(t.Context(), direct, desc); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("registry holds %d different bytes (%v)", len(got), err)
				}
			}
			t.Logf("%d bytes read again; %v", src.reReads, err)
		})
	}
}

// answers records the status codes of a client's requests of one method.
type answers struct {
	base   remote.Client
	method string

	mu    sync.Mutex
	codes []int
}

func (a *answers) Do(r *http.Request) (*http.Response, error) {
	resp, err := a.base.Do(r)
	if r.Method == a.method {
		a.mu.Lock()
		defer a.mu.Unlock()
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		a.codes = append(a.codes, code)
	}
	return resp, err
}

func (a *answers) last() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.codes) == 0 {
		return 0
	}
	return a.codes[len(a.codes)-1]
}

// The answer to the request that completes an upload is lost after the
// registry stored the blob: the session is gone, and the upload finds the
// blob in place instead of failing, or sending it again.
func TestUploaderAnswerLostAfterCompletion(t *testing.T) {
	reg := testutil.Distribution(t)
	data := randomBytes(1<<20+3, 58)
	desc := blobDesc(data)
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("streamed=%v", streamed), func(t *testing.T) {
			proxy := testutil.NewFaultProxy(t, reg, testutil.FaultNone, testutil.FaultLoseAnswer, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone)
			repo := fmt.Sprintf("stellaops/lost-%v", streamed)
			up, err := testutil.Client(t).UploadRepository(proxy.Host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			puts := &answers{base: up.Client, method: http.MethodPut}
			up.Client = puts
			u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 2}
			if streamed {
				err = u.Push(t.Context(), desc, bytes.NewReader(data))
			} else {
				err = u.PushAt(t.Context(), desc, bytes.NewReader(data))
			}
			if err != nil {
				t.Fatalf("upload whose completing answer was lost: %v", err)
			}
			if proxy.InjectedOf(testutil.FaultLoseAnswer) != 1 || len(puts.codes) != 1 || puts.codes[0] != 0 {
				t.Fatalf("%d answers lost, PUTs answered %v: want the one completing PUT's answer lost", proxy.InjectedOf(testutil.FaultLoseAnswer), puts.codes)
			}
			direct, _ := testutil.Client(t).Repository(reg + "/" + repo)
			if got, err := sampleRead(t.Context(), direct, desc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("registry holds %d different bytes (%v)", len(got), err)
			}
		})
	}
}

// The CNCF registry v2.8 (the registry:2 image) cannot resume an upload
// whose request broke off after it took part of the body: asked where the
// upload stands with the Location it gave before, it answers 404 "blob
// upload invalid" and drops the session. PushAt reads its source at will,
// so it starts the blob over in a new session; it used to fail the blob
// (and the import) when the cut came after the first request.
func TestUploaderAtStartsOverWhereTheRegistryDropsTheSession(t *testing.T) {
	reg := testutil.DistributionV2(t)
	transfer.SetAtChunkSize(t, 2<<20)
	data := randomBytes(5<<20+99, 58)
	desc := blobDesc(data)
	// POST, the first PATCH, then the second PATCH cut half-way.
	proxy := testutil.NewFaultProxy(t, reg, testutil.FaultNone, testutil.FaultNone, testutil.FaultCutUpload,
		testutil.FaultNone, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone)
	client := testutil.Client(t)
	up, err := client.UploadRepository(proxy.Host + "/stellaops/dropped")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 4}
	if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt: %v", err)
	}
	if n := proxy.InjectedOf(testutil.FaultCutUpload); n != 1 {
		t.Fatalf("%d uploads cut, want 1", n)
	}
	direct, _ := client.Repository(reg + "/stellaops/dropped")
	if got, err := sampleRead(t.Context(), direct, desc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("registry holds %d different bytes (%v)", len(got), err)
	}
}
