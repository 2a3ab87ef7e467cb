package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A registry answers a PATCH past an upload's first bytes 404: it no
// longer knows the session (distribution v3's BLOB_UPLOAD_UNKNOWN; v2.8's
// BLOB_UPLOAD_INVALID, which it also answers when a PATCH races the bytes
// of a request cut just before, and then drops the session). PushAt reads
// its source again, so it starts the blob over in a new session, and the
// registry holds it; a stream cannot, and fails saying the registry lost
// the session. Both used to fail on the 404 as it came, and the race made
// TestUploaderAtStartsOverWhereTheRegistryDropsTheSession fail about one
// run in fifteen. Lost at the first PATCH, nothing was held: either way
// sends the same bytes in a new session (a stream used to fail).
func TestUploadWhereTheRegistryLosesTheSession(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	for _, code := range []string{"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"} {
		for name, push := range pushers {
			t.Run(code+"/first/"+name, func(t *testing.T) {
				host, counts := hostedDialect(t, reg, dialectOpts{loseSessionAt: 1, loseCode: code})
				repo := "stellaops/lost-first-" + strings.ToLower(name+"-"+code)
				u := chunkedUploader(t, host+"/"+repo)
				data := randomBytes(5<<20+99, 62)
				desc := blobDesc(data)
				if err := push(t, u, desc, data); err != nil {
					t.Fatalf("%s whose session was lost at its first PATCH: %v", name, err)
				}
				if !holds(t, host, repo, desc, data) {
					t.Fatalf("registry does not hold %s", desc.Digest)
				}
				if n := counts.patches.Load(); n != 3 {
					t.Errorf("%d PATCHes, want 3: the lost one, then two in a new session", n)
				}
			})
			t.Run(code+"/"+name, func(t *testing.T) {
				host, counts := hostedDialect(t, reg, dialectOpts{loseSessionAt: 2, loseCode: code})
				repo := "stellaops/lost-" + strings.ToLower(name+"-"+code)
				u := chunkedUploader(t, host+"/"+repo)
				data := randomBytes(5<<20+99, 61)
				desc := blobDesc(data)
				err := push(t, u, desc, data)
				if name == "Push" {
					want := fmt.Sprintf("upload %s: ", desc.Digest)
					if err == nil || errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "the registry lost the upload session") {
						t.Fatalf("stream whose session was lost: %v, want it named, saying the registry lost the upload session (exit 1)", err)
					}
					if strings.Contains(err.Error(), "?") {
						t.Fatalf("stream whose session was lost: %v: the session's URL is printed with its query", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("PushAt whose session was lost: %v", err)
				}
				if !holds(t, host, repo, desc, data) {
					t.Fatalf("registry does not hold %s", desc.Digest)
				}
				if n := counts.patches.Load(); n != 4 {
					t.Errorf("%d PATCHes, want 4: one, the lost one, then two in a new session", n)
				}
			})
		}
	}
}

// A registry that took part of an upload's first request (the link cut
// half-way) and then loses the session when the rest is sent (404
// BLOB_UPLOAD_UNKNOWN, a load balancer's other node; or v2.8's
// BLOB_UPLOAD_INVALID, which drops a session after a cut) held only bytes
// of that request, which the uploader still has in hand, a stream's too:
// the same bytes go in a new session, and the blob is stored. A stream
// used to fail saying the registry lost the session, as if bytes before
// that request had been lost with it.
func TestUploadRestartsASessionLostWithinItsFirstRequest(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	for _, code := range []string{"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"} {
		for name, push := range pushers {
			t.Run(code+"/"+name, func(t *testing.T) {
				// The POST passes, the first PATCH is cut half-way (the
				// registry holds its first half), the status asked after
				// it passes; the PATCH of the rest, the second, is
				// answered that the session is lost.
				proxy := testutil.NewFaultProxy(t, reg, append([]testutil.Fault{testutil.FaultNone, testutil.FaultCutUpload}, make([]testutil.Fault, 40)...)...)
				host, counts := hostedDialect(t, proxy.Host, dialectOpts{loseSessionAt: 2, loseCode: code})
				repo := "stellaops/lost-within-" + strings.ToLower(name+"-"+code)
				u := chunkedUploader(t, host+"/"+repo)
				data := randomBytes(5<<20+99, 63)
				desc := blobDesc(data)
				if err := push(t, u, desc, data); err != nil {
					t.Fatalf("%s whose session was lost within its first request: %v", name, err)
				}
				if proxy.InjectedOf(testutil.FaultCutUpload) != 1 || counts.patches.Load() < 3 {
					t.Fatalf("%d cuts, %d PATCHes: want the first cut, the second lost, and more", proxy.InjectedOf(testutil.FaultCutUpload), counts.patches.Load())
				}
				if !holds(t, host, repo, desc, data) {
					t.Fatalf("registry does not hold %s", desc.Digest)
				}
			})
		}
	}
}

// A stream whose session distribution v2.8 drops once a request past its
// first chunk was cut (it cannot resume one) fails on one line saying the
// registry lost the upload session, and like every error it prints no
// URL's query: an upload's Location carries the registry's state, or a
// storage backend's signature, which remote.Classify drops from errors.
// The query used to be printed, the error formatted into another before
// Classify saw it.
func TestStreamLostSessionPrintsNoQuery(t *testing.T) {
	reg := testutil.DistributionV2(t)
	// POST, the first PATCH, then the second PATCH cut half-way.
	proxy := testutil.NewFaultProxy(t, reg, append([]testutil.Fault{testutil.FaultNone, testutil.FaultNone, testutil.FaultCutUpload}, make([]testutil.Fault, 40)...)...)
	up, err := testutil.Client(t).UploadRepository(proxy.Host + "/stellaops/lost-query")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 4}
	data := randomBytes(5<<20+99, 64)
	desc := blobDesc(data)
	err = u.Push(t.Context(), desc, bytes.NewReader(data))
	if proxy.InjectedOf(testutil.FaultCutUpload) != 1 {
		t.Fatalf("%d uploads cut, want 1", proxy.InjectedOf(testutil.FaultCutUpload))
	}
	if err == nil || !strings.Contains(err.Error(), "the registry lost the upload session") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Push: %v, want one line saying the registry lost the upload session", err)
	}
	if strings.Contains(err.Error(), "?") {
		t.Fatalf("Push: %v: a URL is printed with its query", err)
	}
}

// A registry that loses the session of every first PATCH for a while (404
// BLOB_UPLOAD_INVALID, as v2.8 answers of a session it dropped) fails the
// upload once its tries are spent, saying so: it did not refuse PATCH,
// and the host is not taken for one that takes blobs only whole (later
// uploads, from the same Dialect, still send chunks). A lost session used
// to count as a refusal of PATCH, and two runs of them marked the host:
// the stream failed saying the registry refuses chunked uploads.
func TestLostSessionsAreNoRefusalOfPatch(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	host, counts := hostedDialect(t, testutil.Distribution(t), dialectOpts{loseFirst: 8, loseCode: "BLOB_UPLOAD_INVALID"})
	const repo = "stellaops/lost-not-refused"
	up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d := new(transfer.Dialect)
	u := &transfer.Uploader{Repo: up, Dialect: d, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 2}
	data := randomBytes(5<<20+3, 65)
	// Four sessions a stream (the first and three fresh ones), each
	// PATCH lost: the first eight are.
	for range 2 {
		err = u.Push(t.Context(), blobDesc(data), bytes.NewReader(data))
		if err == nil || strings.Contains(err.Error(), "refuses chunked uploads") {
			t.Fatalf("Push whose sessions were lost: %v, want the lost session's 404, not a refusal of PATCH", err)
		}
	}
	if n := counts.patches.Load(); n != 8 {
		t.Fatalf("%d PATCHes, want the 8 lost", n)
	}
	before := counts.taken.Load()
	if err := u.PushAt(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt once the registry keeps its sessions: %v", err)
	}
	if counts.taken.Load() == before {
		t.Errorf("PushAt sent no PATCH: the host was taken for one that refuses chunks")
	}
	if !holds(t, host, repo, blobDesc(data), data) {
		t.Fatalf("registry does not hold %s", blobDesc(data).Digest)
	}
}

// A session the registry loses at an upload's first PATCH (404
// BLOB_UPLOAD_UNKNOWN: a load balancer's other node) held nothing of ours:
// every byte is in hand. Starting over in a fresh session is no retry of a
// fault in the transfer, and happens with --retries 0 (one attempt) as
// with more, a bounded number of times (three fresh sessions). With one
// attempt the upload used to fail at the first loss.
func TestSessionLostAtFirstPatchStartsOverWithoutRetries(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	for name, push := range pushers {
		t.Run(name, func(t *testing.T) {
			host, counts := hostedDialect(t, reg, dialectOpts{loseSessionAt: 1, loseCode: "BLOB_UPLOAD_UNKNOWN"})
			repo := "stellaops/lost-no-retries-" + strings.ToLower(name)
			up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 1}
			data := randomBytes(5<<20+11, 66)
			desc := blobDesc(data)
			if err := push(t, u, desc, data); err != nil {
				t.Fatalf("%s with one attempt, whose first session was lost at its first PATCH: %v", name, err)
			}
			if !holds(t, host, repo, desc, data) {
				t.Fatalf("registry does not hold %s", desc.Digest)
			}
			if n := counts.patches.Load(); n != 3 {
				t.Errorf("%d PATCHes, want 3: the lost one, then two in a new session", n)
			}
		})
		t.Run("bounded/"+name, func(t *testing.T) {
			host, counts := hostedDialect(t, reg, dialectOpts{loseFirst: 100, loseCode: "BLOB_UPLOAD_UNKNOWN"})
			up, err := testutil.Client(t).UploadRepository(host + "/stellaops/lost-always-" + strings.ToLower(name))
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 1}
			data := randomBytes(5<<20+11, 67)
			err = push(t, u, blobDesc(data), data)
			if err == nil || !strings.Contains(err.Error(), "blob upload unknown") || !strings.Contains(err.Error(), "lost 4 upload sessions in turn") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s whose every session is lost: %v, want the registry's answer and how many were lost, on one line", name, err)
			}
			if n := counts.patches.Load(); n != 4 {
				t.Errorf("%d PATCHes, want 4: the first session and three fresh ones", n)
			}
		})
	}
}

// chunkedUploader is an Uploader of 2 MiB chunks to the repository ref
// ("host/repo"), retrying at once, three tries a request: the set-up of
// the tests of sessions lost, refused, cancelled and restarted.
func chunkedUploader(t *testing.T, ref string) *transfer.Uploader {
	t.Helper()
	up, err := testutil.Client(t).UploadRepository(ref)
	if err != nil {
		t.Fatal(err)
	}
	return &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 3}
}
