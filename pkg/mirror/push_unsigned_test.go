package mirror_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// An unsigned bundle (create without sign) holds a SHA256SUMS with no
// signature: push carries it as the files referrer, as it did before side
// files were checked against the envelope's signers, and pull gives it
// back. There is no envelope for it to fail, so no "bundle files not
// carried" warning either.
func TestPushUnsignedCarriesChecksums(t *testing.T) {
	ctx := context.Background()
	source := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	dst := testutil.Registry(t)
	var logs bytes.Buffer
	ref := dst + "/stellaops/mirror-bundle"
	res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: testutil.Client(t), Transfer: transferOpts(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "bundle files not carried") {
		t.Errorf("push of an unsigned bundle warned: %s", logs.String())
	}
	if res.FilesNotCarried != nil {
		t.Errorf("push of an unsigned bundle reports its files not carried: %+v", res.FilesNotCarried)
	}
	out := filepath.Join(t.TempDir(), "pulled")
	if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + "@" + res.Root.String(), Output: out, Client: testutil.Client(t), Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "SHA256SUMS")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("pulled SHA256SUMS differs from the bundle's (%v)", err)
	}
}
