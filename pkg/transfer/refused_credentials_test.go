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

// A token service refusing the run's credentials refuses them however
// often it is asked: an upload's POST and a mount met it, and asked again
// for every attempt, with backoff, before the run failed (found by
// review). The credentials are asked for once.
func TestUploadAsksRefusedCredentialsOnce(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	exp := &testutil.ExpiringTokens{Tokens: tokens, Lifetime: 1 << 20}
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), exp.Wrap)
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, host, "mirror", "wrong"), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := client.UploadRepository(host + "/refused/blob")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: r, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 4}
	data := randomBytes(1<<20+7, 73)
	for name, op := range map[string]func() error{
		"Push":   func() error { return u.Push(ctx, blobDesc(data), bytes.NewReader(data)) },
		"PushAt": func() error { return u.PushAt(ctx, blobDesc(data), bytes.NewReader(data)) },
		"Mount": func() error {
			_, err := u.Mount(ctx, blobDesc(data), "refused/other")
			return err
		},
	} {
		before := tokens.Refused.Load()
		if err := op(); err == nil {
			t.Fatalf("%s with refused credentials: no error", name)
		}
		if n := tokens.Refused.Load() - before; n != 1 {
			t.Errorf("%s: the token service refused the credentials %d times, want once", name, n)
		}
	}
}
