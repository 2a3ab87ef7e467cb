package transfer_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Every upload request the Uploader makes (POST, PATCH and PUT carrying
// content, from a stream or from a random-access source, the status GET,
// the mount POST) is refused once with 401 when its bearer token has
// expired, as a hosted registry's token does part-way through a long
// transfer: each fetches a new token and is sent again, from the bytes it
// holds, and the registry ends up with the blob.
func TestUploadOutlivesItsToken(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	// A token lives for one request: every request after the first of a
	// token meets its expiry.
	exp := &testutil.ExpiringTokens{Tokens: tokens, Lifetime: 1}
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), exp.Wrap)
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, host, "mirror", "s3cret"), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	uploader := func(repo string) *transfer.Uploader {
		r, err := client.UploadRepository(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		return &transfer.Uploader{Repo: r, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 2}
	}
	streamed, at := randomBytes(3<<20+5, 71), randomBytes(2<<20+3, 72)
	if err := uploader("tokens/streamed").Push(ctx, blobDesc(streamed), bytes.NewReader(streamed)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if err := uploader("tokens/at").PushAt(ctx, blobDesc(at), bytes.NewReader(at)); err != nil {
		t.Fatalf("PushAt: %v", err)
	}
	if ok, err := uploader("tokens/mounted").Mount(ctx, blobDesc(at), "tokens/at"); err != nil || !ok {
		t.Fatalf("Mount: %v, %v", ok, err)
	}
	for repo, data := range map[string][]byte{"tokens/streamed": streamed, "tokens/at": at, "tokens/mounted": at} {
		r, _ := client.Repository(host + "/" + repo)
		if got, err := sampleRead(ctx, r, blobDesc(data)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s holds %d other bytes (%v)", repo, len(got), err)
		}
	}
	if exp.Expired.Load() < 4 { // PATCHes and the PUTs of both uploads, at least
		t.Errorf("only %d requests met an expired token", exp.Expired.Load())
	}
}
