package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyDeltaCountsWhatItChecked: verify of a delta bundle said
// "27 blobs (826.2 KiB) … all digests match" (and content.bytes, "bytes
// hashed", the same) when 18 of those blobs were its base's, omitted from
// the delta and never read. It counts only the blobs it hashed, and the
// omitted ones apart, for a directory and for an archive, read at random
// or as a stream.
func TestVerifyDeltaCountsWhatItChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, dir, _, _, carried := newDeltaBundle(t)
	sign(t, dir, a.priv)
	plain := filepath.Join(t.TempDir(), "delta.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: plain}); err != nil {
		t.Fatal(err)
	}
	for name, envelope := range map[string]string{
		"directory": filepath.Join(dir, "manifest.dsse"),
		"tar":       plain,
		"stream":    testutil.ForeignArchive(t, plain, "delta.tar.gz"),
	} {
		res, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: fixedTime.Add(1e9), Envelope: envelope, Trust: trustKeys(a.pub)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := res.Content
		if c == nil {
			t.Fatalf("%s: no content checked", name)
		}
		if c.Bytes > carried {
			t.Errorf("%s: %d blobs, %d bytes hashed, where the delta carries %d bytes of blobs, manifests included", name, c.Blobs, c.Bytes, carried)
		}
		if c.Omitted == 0 {
			t.Errorf("%s: omitted blobs not counted apart: %+v", name, c)
		}
	}
}

// newDeltaBundle makes a delta bundle (unsigned) in dir over a signed full
// one, a: it returns how many blobs the delta omits (its base's), and how
// many blob files it carries and their bytes.
func newDeltaBundle(t *testing.T) (a *signedSample, dir string, omitted, blobs int, carried int64) {
	t.Helper()
	a = newSignedSample(t, sample.Spec{}, 100)
	_, releaseFile, advisories := testutil.PushSample(t, a.source, sample.Spec{Version: "2025.11.0"})
	dir = filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, releaseFile, advisories, dir)
	opts.Base, opts.BaseTrust = a.dir, trustKeys(a.pub)
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	omitted = len(readManifest(t, dir).Base.Omitted)
	if omitted == 0 {
		t.Fatal("the delta omits nothing: the test needs it to")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		carried += info.Size()
	}
	return a, dir, omitted, len(entries), carried
}
