package layout

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// openFDs counts the descriptors the process holds open, or skips the
// test where /proc/self/fd does not tell.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// TestDirHoldsBoundedDescriptors: a bundle whose advisories are spread over
// many directories (a feed laid out by package or by advisory) is read
// with a bounded number of open descriptors, however many directories it
// has. Each directory's handle used to be kept for the Dir's life, one
// descriptor each: with `ulimit -n 1024`, create, sign, verify, pack and
// import of a bundle with a thousand advisory directories failed with
// "too many open files".
func TestDirHoldsBoundedDescriptors(t *testing.T) {
	root := t.TempDir()
	const dirs = 3 * maxCachedDirs
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range dirs {
		sub := filepath.Join(root, "advisories", "osv", fmt.Sprintf("pkg-%04d", i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "a.json"), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for i := range dirs {
		name := fmt.Sprintf("advisories/osv/pkg-%04d/a.json", i)
		rc, err := d.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err != nil || string(b) != "{}" {
			t.Fatalf("%s: %q, %v", name, b, err)
		}
		rc.Close()
		if _, err := d.ReadDir(fmt.Sprintf("advisories/osv/pkg-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The kept handles, and the pinned root, blobs/ and blobs/sha256.
	if held, bound := openFDs(t)-before, maxCachedDirs+3; held > bound {
		t.Fatalf("a Dir that read %d directories holds %d descriptors, want at most %d", dirs, held, bound)
	}
}

// BenchmarkDirOpenManyDirs opens one file in each of 1,000 directories of
// a bundle, the files of an advisory feed laid out a directory a package:
// past the kept handles, each open also opens (and closes) its
// directories.
func BenchmarkDirOpenManyDirs(b *testing.B) {
	root := b.TempDir()
	const dirs = 1000
	if err := os.WriteFile(filepath.Join(root, OCILayoutFile), ociLayoutContent, 0o644); err != nil {
		b.Fatal(err)
	}
	names := make([]string, dirs)
	for i := range dirs {
		names[i] = fmt.Sprintf("advisories/osv/pkg-%04d/a.json", i)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, names[i])), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, names[i]), []byte(`{}`), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	d, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, name := range names {
			rc, err := d.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	}
}
