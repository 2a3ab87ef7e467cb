package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// killAtRename runs the binary under strace, which delivers SIGKILL as
// the process enters the first rename onto path: the state a crash or a
// power cut leaves just before that file takes its name. It checks that
// the process was killed there (it did not exit by itself).
func killAtRename(t *testing.T, env []string, path string, args ...string) {
	t.Helper()
	strace := tool(t, "strace")
	r := runStella(t, env, strace, append([]string{"-f", "-qq", "-o", os.DevNull, "-P", path,
		"-e", "inject=renameat,renameat2:signal=SIGKILL:when=1", stellaBin}, args...)...)
	if r.code == 0 || r.stderr != "" {
		t.Fatalf("not killed at the rename onto %s: exit %d\nstdout: %s\nstderr: %s", path, r.code, r.stdout, r.stderr)
	}
}

// temporaries lists the hidden temporary files (".NAME.tmp-…") in dir.
func temporaries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmps []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	return tmps
}

// copyDir copies a bundle directory (regular files and directories).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSignKilledAndResumed kills sign of a bundle directory as it is about
// to rename each file it writes into place, then runs it again: the second
// run signs (the first one's temporaries do not stop it, and are gone),
// and the bundle verifies, checksums and all.
func TestSignKilledAndResumed(t *testing.T) {
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	created := filepath.Join(t.TempDir(), "bundle")
	mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", created, "--plain-http")
	root := testutil.ModuleRoot(t)
	key, pub := filepath.Join(root, "tools/cosign/cosign.dev.key"), filepath.Join(root, "tools/cosign/cosign.pub")
	env := []string{"COSIGN_PASSWORD=stellaops-dev"}
	for _, name := range []string{"manifest.dsse", "public-key.pem", "index.json", "SHA256SUMS", "SHA256SUMS.sig"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			copyDir(t, created, dir)
			sign := []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key}
			killAtRename(t, env, filepath.Join(dir, name), sign...)
			if tmps := temporaries(t, dir); len(tmps) != 1 || !strings.HasPrefix(tmps[0], "."+name+".tmp-") {
				t.Fatalf("killed before %s took its name, the bundle holds %v", name, tmps)
			}
			if r := stella(t, env, sign...); r.code != 0 {
				t.Fatalf("sign again: exit %d\n%s", r.code, r.stderr)
			}
			if tmps := temporaries(t, dir); len(tmps) != 0 {
				t.Errorf("left in the bundle: %v", tmps)
			}
			mustStella(t, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
			mustStella(t, "mirror", "verify-checksums", dir, "--key", pub)
		})
	}
}
