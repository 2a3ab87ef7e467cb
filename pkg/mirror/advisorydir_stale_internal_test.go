package mirror

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestAdvisoryStaleTemporaries: the temporaries of an advisory that an
// import killed before its renames left are removed by the next import
// writing that advisory; those of an import still running (another one
// writing the same advisories at once) are left be, since that import
// renames them into place once its tags are written. Cleaned by name
// alone, the running import's files went, and it failed after tagging.
func TestAdvisoryStaleTemporaries(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to take a finished process's id from")
	}
	dir := t.TempDir()
	abandoned := filepath.Join(dir, fmt.Sprintf(".nvd.json.gz.tmp-%d-0123456789ab", dead.Process.Pid))
	live := filepath.Join(dir, fmt.Sprintf(".nvd.json.gz.tmp-%d-ba9876543210", os.Getppid()))
	other := filepath.Join(dir, fmt.Sprintf(".osv.json.gz.tmp-%d-0123456789ab", dead.Process.Pid))
	for _, p := range []string{abandoned, live, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := a.create(ocispec.Descriptor{}, []string{"advisories/nvd.json.gz"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.abort()
	if _, err := os.Lstat(abandoned); !os.IsNotExist(err) {
		t.Errorf("an abandoned temporary is left: %v", err)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: removed, though its process runs or it is another advisory's: %v", filepath.Base(p), err)
		}
	}
}

// TestAdvisoryStaleListedOnce: the import of a feed of many advisories in
// one directory lists that directory once for abandoned temporaries, not
// once an advisory: a first import of 20000 files in one directory listed
// it 20000 times, some 12 ms each, minutes of CPU. An abandoned temporary
// of any of them is still removed.
func TestAdvisoryStaleListedOnce(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to take a finished process's id from")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "osv"), 0o755)
	abandoned := filepath.Join(dir, "osv", fmt.Sprintf(".GHSA-0099.json.tmp-%d-0123456789ab", dead.Process.Pid))
	if err := os.WriteFile(abandoned, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	staleListedHook = func(dir string) { listed[dir]++ }
	defer func() { staleListedHook = nil }()
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range 100 {
		p, err := a.create(ocispec.Descriptor{}, []string{fmt.Sprintf("advisories/osv/GHSA-%04d.json", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.abort()
	}
	if listed["osv"] != 1 {
		t.Errorf("osv/ listed %d times for 100 advisories, want once", listed["osv"])
	}
	if _, err := os.Lstat(abandoned); !os.IsNotExist(err) {
		t.Errorf("an abandoned temporary is left: %v", err)
	}
}
