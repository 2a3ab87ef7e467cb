package layout

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestSymlinkedDirIsRefused: a bundle directory holds no symlinks, at any
// level. A symlinked directory (blobs/sha256, advisories/, scripts/,
// docs/) pointing out of the bundle is not followed by any read that pack,
// verify, import and serve make (OpenBlob, Fetch, FetchBytes, Exists,
// Open, ReadFile, Checksums): each fails with ErrMalformed naming the
// symlink, and reads nothing behind it. O_NOFOLLOW alone covered only a
// path's last element. A symlink that stays inside the bundle is refused
// the same way.
func TestSymlinkedDirIsRefused(t *testing.T) {
	data := []byte("outside the bundle")
	dg := digest.FromBytes(data)
	desc := ocispec.Descriptor{Digest: dg, Size: int64(len(data))}
	ctx := context.Background()

	for _, c := range []struct {
		link string // the symlinked directory, in the bundle
		file string // a file read through it
	}{
		{BlobsDir + "/sha256", BlobName(dg)},
		{BlobsDir, BlobName(dg)},
		{"advisories", "advisories/nvd.json"},
		{"scripts", "scripts/load.sh"},
		{"docs", "docs/README.md"},
		{"advisories/nvd", "advisories/nvd/2026.json"},
	} {
		for _, inside := range []bool{false, true} {
			name := c.link
			if inside {
				name += "/inside"
			}
			t.Run(name, func(t *testing.T) {
				root := t.TempDir()
				if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
					t.Fatal(err)
				}
				// The link's target holds the file as the bundle would.
				target := t.TempDir()
				if inside {
					target = filepath.Join(root, "elsewhere")
				}
				rest := strings.TrimPrefix(c.file, c.link+"/")
				if err := os.MkdirAll(filepath.Dir(filepath.Join(target, rest)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(target, rest), data, 0o644); err != nil {
					t.Fatal(err)
				}
				link := filepath.Join(root, filepath.FromSlash(c.link))
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, link); err != nil {
					t.Skipf("no symlinks here: %v", err)
				}
				d, err := Open(root)
				if err != nil {
					t.Fatal(err)
				}
				refused := func(what string, err error) {
					t.Helper()
					if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), link+": is a symbolic link") {
						t.Errorf("%s: err = %v, want ErrMalformed naming %s as a symlink", what, err, link)
					}
				}
				if strings.HasPrefix(c.file, BlobsDir+"/") {
					f, err := d.OpenBlob(desc)
					if err == nil {
						f.Close()
					}
					refused("OpenBlob", err)
					rc, err := d.Fetch(ctx, desc)
					if err == nil {
						rc.Close()
					}
					refused("Fetch", err)
					_, err = d.FetchBytes(ctx, desc)
					refused("FetchBytes", err)
					ok, err := d.Exists(ctx, desc)
					if ok {
						t.Errorf("Exists: a blob behind %s is reported present", link)
					}
					refused("Exists", err)
				}
				rc, err := d.Open(c.file)
				if err == nil {
					io.Copy(io.Discard, rc)
					rc.Close()
				}
				refused("Open", err)
				_, err = d.ReadFile(c.file)
				refused("ReadFile", err)
				if _, err := d.Checksums(false); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), link) {
					t.Errorf("Checksums: err = %v, want ErrMalformed naming %s", err, link)
				}
			})
		}
	}
}

// TestSymlinkedFileIsRefused: a symlinked file deep in the bundle (the last
// element) is refused as before, and a file reached through real
// directories is read.
func TestSymlinkedFileIsRefused(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644)
	os.MkdirAll(filepath.Join(root, "advisories", "nvd"), 0o755)
	os.WriteFile(filepath.Join(root, "advisories", "nvd", "real.json"), []byte("{}"), 0o644)
	link := filepath.Join(root, "advisories", "nvd", "link.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := d.ReadFile("advisories/nvd/real.json"); err != nil || string(data) != "{}" {
		t.Fatalf("ReadFile(real.json) = %q, %v", data, err)
	}
	if _, err := d.ReadFile("advisories/nvd/link.json"); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), link+": is a symbolic link") {
		t.Errorf("ReadFile(link.json): err = %v, want ErrMalformed naming %s as a symlink", err, link)
	}
	if _, err := d.ReadFile("advisories/missing/x.json"); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(root, "advisories", "missing", "x.json")) {
		t.Errorf("ReadFile(missing): err = %v, want ErrNotFound naming the file", err)
	}
	os.WriteFile(filepath.Join(root, "docs"), nil, 0o644)
	if _, err := d.ReadFile("docs/README.md"); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), filepath.Join(root, "docs")+": not a directory") {
		t.Errorf("ReadFile(docs/README.md, docs a file): err = %v, want ErrMalformed naming docs", err)
	}
}
