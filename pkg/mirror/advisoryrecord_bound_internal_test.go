package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestRecordStaysReadable: with --keep-withdrawn, the advisories a release
// withdrew stay recorded, release after release, so the record grows with
// no bound of its own; past maxAdvisoryRecord the next import refused the
// record stella itself wrote ('… is not a record stella wrote (over 8388608
// bytes): move it aside', exit 11), and every import with the directory
// failed. An import now writes no record it would not read back: the kept
// advisories past the bound are no longer recorded (left in place for good),
// and it says how many.
func TestRecordStaysReadable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "k"), 0o755)
	empty := filepath.Join(dir, "k", "0.json")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Lstat(empty)
	root := digest.FromString("root")
	prev := &advisoryRecord{SchemaVersion: advisoryRecordSchema, BundleID: "b1", Version: "1", Generation: 1, Root: root}
	// Kept advisories (hard links of one empty file) up to just under the
	// bound, which the release's one new advisory then passes.
	add := func(i int, pad string) {
		name := fmt.Sprintf("k/%d%s.json", i, pad)
		if err := os.Link(empty, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
		prev.Files = append(prev.Files, recordedAdvisory{Path: name, Digest: digest.FromString(""), Size: 0, File: fileID(st)})
	}
	i := 1
	for ; i%1000 != 0 || len(mustEncode(t, prev)) < maxAdvisoryRecord-200_000; i++ {
		add(i, "")
	}
	// Each entry now takes the same bytes (paths of as many digits).
	before := len(mustEncode(t, prev))
	add(i, "")
	each := len(mustEncode(t, prev)) - before
	for n := (maxAdvisoryRecord - 50 - before - 2*each) / each; n > 0; n-- {
		i++
		add(i, "")
	}
	// The last one's name takes the bytes left: 50 under the bound.
	i++
	add(i, strings.Repeat("x", maxAdvisoryRecord-50-len(mustEncode(t, prev))-each))
	data := mustEncode(t, prev)
	if len(data) != maxAdvisoryRecord-50 {
		t.Fatalf("record of %d bytes", len(data))
	}
	if err := os.WriteFile(filepath.Join(dir, AdvisoryRecordName), data, 0o644); err != nil {
		t.Fatal(err)
	}

	content := []byte(`{"new":1}`)
	os.WriteFile(filepath.Join(dir, "new.json"), content, 0o644)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.keepWithdrawn = true
	p, err := a.create(desc, []string{"advisories/new.json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	md := &metadata{
		Manifest: &bundle.Manifest{BundleID: "b2", Release: bundle.Release{Version: "2"}, MirrorGeneration: 2,
			Advisories: []bundle.File{{Path: "advisories/new.json", Digest: desc.Digest, Size: desc.Size}}},
		RootDesc: ocispec.Descriptor{Digest: digest.FromString("root2")},
	}
	var logs strings.Builder
	if _, err := a.finish(context.Background(), []*pendingAdvisory{p}, md, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	rec, err := a.readRecord()
	if err != nil {
		t.Fatalf("the next import: %v", err)
	}
	if len(rec.Files) < 2 || !strings.Contains(logs.String(), "no longer recorded") {
		t.Errorf("record of %d files; logs:\n%s", len(rec.Files), logs.String())
	}
}

func mustEncode(t *testing.T, rec *advisoryRecord) []byte {
	t.Helper()
	data, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
