package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestVerifyScript runs deploy/airgap/verify.sh (the bundle's
// scripts/verify.sh) as the far side's operator would: on the bundle
// directory it passes; given the packed archive instead, which is what the
// operator holds, it said "stella: bundle.tar.gz/manifest.dsse: not found"
// of a file that is there. It now says, on one line, that it checks a
// directory and how to check the archive itself.
func TestVerifyScript(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "verify.sh")
	run := func(target string) (int, string) {
		cmd := exec.Command("bash", script, target, pub)
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "DOCKER_CONFIG="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := run(dir); code != 0 || !strings.HasSuffix(out, "==> "+dir+" verifies\n") {
		t.Fatalf("verify.sh on the bundle directory: exit %d\n%s", code, out)
	}
	code, out := run(archive)
	want := "verify.sh: " + archive + " is a file, not a bundle directory: extract it (docs/VERIFY.md), or check the archive itself with: " + stellaBin + " mirror verify " + archive + " --key " + pub + "\n"
	if code != 1 || out != want {
		t.Errorf("verify.sh on the archive: exit %d\n%s\nwant exit 1\n%s", code, out, want)
	}
}

// TestVerifyScriptSuggestionRuns: given an archive whose path holds a
// space, verify.sh's suggestion ("check the archive itself with: …") is a
// command that runs as printed. It named the paths unquoted, so the
// command pasted into a shell verified "my" and "bundle.tar.gz", neither
// of which exists.
func TestVerifyScriptSuggestionRuns(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	work := filepath.Join(t.TempDir(), "usb stick")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	spaced, spacedPub := filepath.Join(work, "my bundle.tar.gz"), filepath.Join(work, "trusted key.pub")
	for from, to := range map[string]string{archive: spaced, pub: spacedPub} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "verify.sh")
	cmd := exec.Command("bash", script, spaced, spacedPub)
	cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "DOCKER_CONFIG="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	_, suggested, ok := strings.Cut(strings.TrimSuffix(string(out), "\n"), "check the archive itself with: ")
	if !ok {
		t.Fatalf("verify.sh on the archive:\n%s", out)
	}
	run := exec.Command("bash", "-c", suggested)
	run.Env = cmd.Env
	if got, err := run.CombinedOutput(); err != nil {
		t.Errorf("the suggested %s: %v\n%s", suggested, err, got)
	}
}

// TestScriptsRefuseTheBundlesOwnKey: verify.sh and load.sh refuse to take
// the public-key.pem of the bundle they check as the trusted key, as their
// usage and header say it never is: whoever could alter the bundle could
// alter that key too. Given it, both passed whatever signed the bundle.
func TestScriptsRefuseTheBundlesOwnKey(t *testing.T) {
	archive, _, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	own := filepath.Join(dir, "public-key.pem")
	root := testutil.ModuleRoot(t)
	for name, cmd := range map[string]*exec.Cmd{
		"verify.sh": exec.Command("bash", filepath.Join(root, "deploy", "airgap", "verify.sh"), dir+"/", own),
		"load.sh":   exec.Command("bash", filepath.Join(root, "deploy", "airgap", "load.sh"), dir, "127.0.0.1:1"),
	} {
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY="+own, "DOCKER_CONFIG="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.HasPrefix(string(out), name+": "+own+" is the bundle's own public-key.pem") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("%s with the bundle's own key: exit %d\n%s", name, code, out)
		}
	}
}

// TestLoadScriptRefusesTheBundlesOwnKeyAmongFlags: the bundle's own
// public-key.pem given to load.sh among the import flags (after the
// registry, or in STELLA_IMPORT_FLAGS), beside a trusted STELLA_KEY, is
// refused as it is in STELLA_KEY: import trusts every --key, so the
// bundle then passed whatever key signed it.
func TestLoadScriptRefusesTheBundlesOwnKeyAmongFlags(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	own := filepath.Join(dir, "public-key.pem")
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "load.sh")
	for name, tt := range map[string]struct {
		args  []string
		flags string
	}{
		"after the registry":  {args: []string{"--key", own}},
		"--key=":              {args: []string{"--key=" + own}},
		"STELLA_IMPORT_FLAGS": {flags: "--plain-http --key " + own},
	} {
		cmd := exec.Command("bash", append([]string{script, dir, "127.0.0.1:1"}, tt.args...)...)
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY="+pub, "STELLA_IMPORT_FLAGS="+tt.flags, "DOCKER_CONFIG="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.HasPrefix(string(out), "load.sh: "+own+" is the bundle's own public-key.pem") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("load.sh with the bundle's own key %s: exit %d\n%s", name, code, out)
		}
	}
}
