package mirror

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestRecordNamesTheFileInPlace: an advisory found in place when the
// import began, and replaced by the same bytes before it finished (another
// import renamed its own copy in), passes the commit; the record must name
// the file there then, not the one found first, or the next release that
// withdraws it takes it for another file (changed) and leaves it for good.
func TestRecordNamesTheFileInPlace(t *testing.T) {
	dir := t.TempDir()
	content := []byte(`{"a":1}`)
	file := filepath.Join(dir, "nvd.json")
	os.WriteFile(file, content, 0o644)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := a.create(desc, []string{"advisories/nvd.json"})
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes, another file, renamed into place.
	other := filepath.Join(dir, ".other")
	os.WriteFile(other, content, 0o644)
	if err := os.Rename(other, file); err != nil {
		t.Fatal(err)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	md := &metadata{
		Manifest: &bundle.Manifest{BundleID: "b", Release: bundle.Release{Version: "1"}, MirrorGeneration: 1,
			Advisories: []bundle.File{{Path: "advisories/nvd.json", Digest: desc.Digest, Size: desc.Size}}},
		RootDesc: ocispec.Descriptor{Digest: digest.FromString("root")},
	}
	if _, err := a.finish(context.Background(), []*pendingAdvisory{p}, md, logger(nil)); err != nil {
		t.Fatal(err)
	}
	rec, err := a.readRecord()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Lstat(file)
	if len(rec.Files) != 1 || rec.Files[0].File != fileID(st) {
		t.Errorf("record %+v, want nvd.json as file %d", rec.Files, fileID(st))
	}
}
