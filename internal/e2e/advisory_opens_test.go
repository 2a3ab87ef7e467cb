package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// straceDirOpen is a directory opened by name under another: os.Root
// opens each directory on a path so.
var straceDirOpen = regexp.MustCompile(`openat\(\d+, "([^"/]+)", [^)]*O_DIRECTORY`)

// TestAdvisoryDirectoriesOpenedOnce imports a feed of small advisories in
// 100 directories, 5 in each, under strace: each directory is opened a few
// times an import, whatever the advisories in it (an import keeps at most
// 64 open). Before, every file operation (Lstat, create, rename, Lstat
// again) opened each directory on its path anew, 16 openat an advisory:
// 160000 for a feed of 10000, most of a re-import's system time.
func TestAdvisoryDirectoriesOpenedOnce(t *testing.T) {
	strace := tool(t, "strace")
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{Advisories: 500})
	key, pub, pass := devKeyPair(t)
	work := t.TempDir()
	archive := filepath.Join(work, "bundle.tar")
	r := stella(t, pass, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output", archive, "--key", key)
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	registry := testutil.Distribution(t)
	for _, run := range []string{"first", "again"} {
		dir := filepath.Join(work, "advisories")
		log := filepath.Join(t.TempDir(), "strace.log")
		cmd := exec.Command(strace, "-f", "-qq", "-e", "signal=none", "-o", log, "-e", "trace=openat",
			stellaBin, "mirror", "import", archive, "--registry", registry, "--plain-http", "--key", pub, "--advisories-dir", dir, "--quiet")
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s import: %v\n%s", run, err, out)
		}
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		opened := map[string]int{}
		for _, m := range straceDirOpen.FindAllStringSubmatch(string(data), -1) {
			opened[m[1]]++
		}
		if got, err := filepath.Glob(filepath.Join(dir, "extra", "*", "adv-*.json")); err != nil || len(got) != 500 {
			t.Fatalf("%s import: %d advisories written under extra/, want 500", run, len(got))
		}
		// extra is on the way to all 100 directories: opened a few times
		// for each (more the first time, making it), whatever the
		// advisories in it.
		want := 300
		if run == "first" {
			want = 700
		}
		if opened["extra"] > want {
			t.Errorf("%s import: extra/ opened %d times for 500 advisories in 100 directories under it, want at most %d", run, opened["extra"], want)
		}
		for _, d := range []string{"000", "042", "099"} {
			if opened[d] > 7 {
				t.Errorf("%s import: extra/%s opened %d times for its 5 advisories, want at most 7", run, d, opened[d])
			}
		}
	}
}
