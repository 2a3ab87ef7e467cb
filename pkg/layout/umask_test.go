//go:build unix

package layout_test

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/layout"
)

// A bundle written under umask 077 (root's, on many hardened hosts) is
// read by the loader, another user: its files are 0644 whatever the umask,
// and so must be the directories that hold them (blobs/sha256,
// advisories/…, scripts/). They were 0700, the root alone 0755.
func TestBundleDirectoriesWhateverUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	ctx := context.Background()
	stage, err := layout.Stage(filepath.Join(t.TempDir(), "bundle"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	data := []byte("blob\n")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := stage.Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := stage.AddFile(ctx, "advisories/osv/a.json", strings.NewReader("{}\n"), "application/json", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := stage.Commit(); err != nil {
		t.Fatal(err)
	}
	root := stage.Path()
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := e.Info()
		if e.IsDir() && info.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want drwxr-xr-x", p, info.Mode().Perm())
		}
		return nil
	})
}
