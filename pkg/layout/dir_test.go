package layout

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestDirRefusesSpecialFiles plants what a bundle directory must not hold
// where a file is read: each is refused as malformed, and at once (a named
// pipe used to block the open for ever, waiting for a writer).
func TestDirRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("{}"), 0o644)
	plant := map[string]func(p string) error{
		"fifo":    func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"symlink": func(p string) error { return os.Symlink(target, p) },
		"dir":     func(p string) error { return os.Mkdir(p, 0o755) },
	}
	for kind, plantIt := range plant {
		t.Run(kind, func(t *testing.T) {
			name := kind + ".json"
			if err := plantIt(filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
			d, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := d.ReadFile(name); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), name) {
					t.Fatalf("err = %v, want ErrMalformed naming %s", err, name)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("reading a planted file blocked")
			}
		})
	}
}

// A descriptor with a malformed digest is refused before go-digest's
// Algorithm (which panics on one without a colon) looks at it.
func TestMalformedDigestIsRefused(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(root)
	x, err := IndexTar(bytes.NewReader(makeTar(t, entry{name: "oci-layout", typeflag: tar.TypeReg, body: "{}"})), 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, dg := range []digest.Digest{"", "sha256"} {
		desc := ocispec.Descriptor{Digest: dg, Size: 2}
		if _, err := d.OpenBlob(desc); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("Dir.OpenBlob(%q): %v", dg, err)
		}
		if _, err := x.Blob(desc); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("TarIndex.Blob(%q): %v", dg, err)
		}
	}
}

// TestOpenFileIsNotADirectory: an archive named where a bundle directory is
// wanted (pack bundle.tar, verify-checksums bundle.tar.zst) is refused as
// such, not as "lstat bundle.tar/oci-layout: not a directory", which named
// no sentinel and left the operator to guess.
func TestOpenFileIsNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bundle.tar")
	if err := os.WriteFile(file, []byte("tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(file)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "not a bundle directory") {
		t.Fatalf("Open(file) = %v, want a usage error saying it is not a bundle directory", err)
	}
}

// TestRemoveTemporaries removes exactly the names an interrupted WriteFile
// or Push leaves, and nothing that only resembles them.
func TestRemoveTemporaries(t *testing.T) {
	root := t.TempDir()
	removed := []string{".manifest.dsse.tmp-123", ".SHA256SUMS.sig.tmp-4294967295", "blobs/sha256/.tmp-0123456789ab-42"}
	kept := []string{".manifest.dsse.tmp-12a", ".notes.txt.tmp-1", "advisories/.nvd.json.tmp-1", "blobs/sha256/.tmp-0123456789AB-42",
		"blobs/sha256/.tmp-0123456789ab-", "manifest.dsse", ".SHA256SUMS.tmp-"}
	for _, name := range append(append([]string{}, removed...), kept...) {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, ".index.json.tmp-7"), 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".index.json.tmp-7")
	if err := (&Dir{root: root}).RemoveTemporaries(); err != nil {
		t.Fatal(err)
	}
	for _, name := range removed {
		if _, err := os.Lstat(filepath.Join(root, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: not removed (%v)", name, err)
		}
	}
	for _, name := range kept {
		if _, err := os.Lstat(filepath.Join(root, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (&Dir{root: t.TempDir()}).RemoveTemporaries(); err != nil {
		t.Errorf("a directory without blobs: %v", err)
	}
	// blobs/sha256 a symlink: nothing where it leads is removed.
	elsewhere, linked := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, ".tmp-0123456789ab-42"), nil, 0o644)
	os.Mkdir(filepath.Join(linked, BlobsDir), 0o755)
	os.Symlink(elsewhere, filepath.Join(linked, BlobsDir, "sha256"))
	if err := (&Dir{root: linked}).RemoveTemporaries(); err == nil {
		t.Error("blobs/sha256 a symlink: no error")
	}
	if _, err := os.Lstat(filepath.Join(elsewhere, ".tmp-0123456789ab-42")); err != nil {
		t.Errorf("removed through a symlink: %v", err)
	}
}

// TestRemoveStaleOutput removes the temporaries of a write of one archive
// (its volumes and list too), and nothing of another output. The record of
// a placing stopped (.OUT.volumes.pending) is no temporary: it is what
// proves the volumes placed ours, and goes once a list takes its name.
func TestRemoveStaleOutput(t *testing.T) {
	dir := t.TempDir()
	removed := []string{".b.tar.tmp-1", ".b.tar.000.tmp-22", ".b.tar.1000.tmp-3", ".b.tar.volumes.json.tmp-4", ".b.tar.volumes.dsse.tmp-5", ".b.tar.volumes.pending.tmp-6"}
	kept := []string{"b.tar", "b.tar.000", ".b.tar.volumes.pending", ".b.tar.tmp-", ".b.tar.zst.tmp-1", ".b.tar.00.tmp-1", ".b.tar.tmp-1x", ".a.tar.tmp-1", ".b.tar.d.tmp-1"}
	for _, name := range append(append([]string{}, removed...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveStaleOutput(filepath.Join(dir, "b.tar")); err != nil {
		t.Fatal(err)
	}
	for _, name := range removed {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: not removed (%v)", name, err)
		}
	}
	for _, name := range kept {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRemoveStaleOutputLeavesLiveWrites: a temporary that a live write
// holds (CreateTemp, open) is left be, so that of two writes of one output
// at once neither removes the other's file under it (the loser used to
// fail with "no such file" instead of "exists"); closed, it is stale.
func TestRemoveStaleOutputLeavesLiveWrites(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar")
	live, err := CreateTemp(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveStaleOutput(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(live.Name()); err != nil {
		t.Fatalf("a live write's temporary was removed: %v", err)
	}
	live.Close()
	if err := RemoveStaleOutput(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(live.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a closed temporary was left: %v", err)
	}
}
