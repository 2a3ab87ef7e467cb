package transfer_test

import (
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
				up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
				if err != nil {
					t.Fatal(err)
				}
				u := &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 3}
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
				up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
				if err != nil {
					t.Fatal(err)
				}
				u := &transfer.Uploader{Repo: up, ChunkSize: 2 << 20, Backoff: time.Millisecond, Attempts: 3}
				data := randomBytes(5<<20+99, 61)
				desc := blobDesc(data)
				err = push(t, u, desc, data)
				if name == "Push" {
					want := fmt.Sprintf("upload %s: ", desc.Digest)
					if err == nil || errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "the registry lost the upload session") {
						t.Fatalf("stream whose session was lost: %v, want it named, saying the registry lost the upload session (exit 1)", err)
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
