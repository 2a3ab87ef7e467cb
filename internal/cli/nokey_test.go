package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestPullSyncNoKeyOtherSignature: someone who may push to the source
// repository signs a copy of a signed bundle afresh with a key of their
// own and pushes it: the root then has two signature referrers, neither
// holding the other's signature. pull and sync without --key exit 1 with
// one line naming the root and asking for --key, and write nothing; they
// used to take either envelope (the one with more signatures). With --key
// they take the signer's; import REF and inspect REF are unaffected.
func TestPullSyncNoKeyOtherSignature(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "nokey-test")
	work := t.TempDir()
	host, airgap := testutil.Registry(t), testutil.Registry(t)
	dir := testBundle(t)
	signer, attacker := filepath.Join(work, "signer"), filepath.Join(work, "attacker")
	for _, prefix := range []string{signer, attacker} {
		if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", prefix); code != 0 {
			t.Fatal(stderr)
		}
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", signer+".key"); code != 0 {
		t.Fatal(stderr)
	}
	repo := host + "/stellaops/mirror-bundle"
	if code, _, stderr := run(t, "mirror", "push", dir, repo, "--plain-http", "--key", signer+".pub"); code != 0 {
		t.Fatal(stderr)
	}
	copied := filepath.Join(work, "copy")
	if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(copied, "manifest.dsse")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(copied, "manifest.json"), "--key", attacker+".key"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "mirror", "push", copied, repo, "--plain-http"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := run(t, "mirror", "inspect", dir, "--format", "json")
	var bundle struct {
		Version string `json:"version"`
		Root    string `json:"root"`
	}
	if err := json.Unmarshal([]byte(stdout), &bundle); code != 0 || err != nil {
		t.Fatalf("inspect: exit %d (%v): %s", code, err, stderr)
	}
	root := bundle.Root
	ref := repo + ":" + bundle.Version

	out := filepath.Join(work, "pulled")
	for _, args := range [][]string{
		{"mirror", "pull", ref, out, "--plain-http"},
		{"mirror", "sync", ref, airgap + "/copy/bundle", "--plain-http"},
	} {
		code, stdout, stderr := run(t, args...)
		if code != ExitInput || stdout != "" || !strings.HasPrefix(stderr, "stella: ") || strings.Count(stderr, "\n") != 1 ||
			!strings.Contains(stderr, root) || !strings.Contains(stderr, "2 signature referrers") || !strings.Contains(stderr, "--key") {
			t.Errorf("%s without --key: exit %d, stdout %q, stderr %q; want exit 1, one line naming %s and its 2 signature referrers, asking for --key", args[1], code, stdout, stderr, root)
		}
		code, stdout, _ = run(t, append(args, "--format", "json")...)
		var res struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exitCode"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitInput || res.ExitCode != ExitInput || !strings.Contains(res.Error, root) {
			t.Errorf("%s without --key --format json: exit %d, %q (%v)", args[1], code, stdout, err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("pull without --key refused, yet %s: %v", out, err)
	}
	if tags := testutil.Tags(t, airgap); len(tags) != 0 {
		t.Errorf("sync without --key refused, yet the destination holds %v", tags)
	}

	if code, _, stderr := run(t, "mirror", "pull", ref, out, "--plain-http", "--key", signer+".pub"); code != 0 {
		t.Fatalf("pull --key: exit %d: %s", code, stderr)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "manifest.dsse"))
	if got, _ := os.ReadFile(filepath.Join(out, "manifest.dsse")); !bytes.Equal(got, want) {
		t.Error("pull --key wrote another manifest.dsse than the signer's")
	}
	for _, args := range [][]string{
		{"mirror", "sync", ref, airgap + "/copy/bundle", "--plain-http", "--key", signer + ".pub"},
		{"mirror", "import", ref, "--registry", airgap, "--plain-http", "--key", signer + ".pub", "--advisories-dir", filepath.Join(work, "adv")},
		{"mirror", "inspect", ref, "--plain-http", "--key", signer + ".pub"},
		{"mirror", "inspect", ref, "--plain-http"},
	} {
		if code, _, stderr := run(t, args...); code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(args[1:], " "), code, stderr)
		}
	}
}
