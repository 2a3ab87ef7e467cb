package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPullOutputNotADirectorySaysSo: pull onto a file, or onto a symbolic
// link (to an empty directory, to a bundle directory, to nothing), is
// refused (exit 1) saying what is there, with or without --force, and
// touches nothing. Without --force it was refused as "already exists and
// is not empty (use --force to replace it)", and --force was then refused
// too, as "not a directory": advice that led nowhere.
func TestPullOutputNotADirectorySaysSo(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ref := testutil.Registry(t) + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	work := t.TempDir()
	empty := filepath.Join(work, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"to-empty": empty, "to-bundle": s.dir, "dangling": filepath.Join(work, "nowhere")} {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Skipf("symlink: %v", err)
		}
	}
	for _, c := range []struct{ out, kind string }{
		{"file", "is not a directory"},
		{"to-empty", "is a symbolic link"},
		{"to-bundle", "is a symbolic link"},
		{"dangling", "is a symbolic link"},
	} {
		for _, force := range []bool{false, true} {
			out := filepath.Join(work, c.out)
			_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: out, Force: force,
				Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			if !errors.Is(err, errdef.ErrExists) || !strings.HasPrefix(err.Error(), out+": already exists and "+c.kind) || strings.Contains(err.Error(), "--force") {
				t.Errorf("pull onto %s (force %v): err = %v, want ErrExists saying it %s, with no word of --force", c.out, force, err, c.kind)
			}
		}
	}
	if data, err := os.ReadFile(filepath.Join(work, "file")); err != nil || string(data) != "x" {
		t.Errorf("the file pulled onto holds %q (%v)", data, err)
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the directory linked to holds %v (%v)", entries, err)
	}
	entries, _ := os.ReadDir(work)
	if len(entries) != 5 {
		t.Errorf("left beside the outputs: %v", entries)
	}
}
