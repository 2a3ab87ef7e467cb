package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/deploy/airgap"
	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestLoadScript runs deploy/airgap/load.sh (plan §4's interface:
// ./load.sh <bundle> [registry:port]) as an operator would, and checks the
// bundle's scripts/load.sh is the same file.
func TestLoadScript(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar.gz")
	target := testutil.Distribution(t)
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "load.sh")
	run := func(env ...string) (string, error) {
		cmd := exec.Command("bash", script, archive, target)
		cmd.Env = append(os.Environ(), append([]string{"STELLA=" + stellaBin, "STELLA_IMPORT_FLAGS=--plain-http", "DOCKER_CONFIG=" + t.TempDir()}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Without stella (not installed yet, or STELLA mistyped): one line
	// saying so and where to get it, exit 1 as for any input not found,
	// not bash's "command not found" (127) after "Importing…".
	for name, script := range map[string]string{"load.sh": script, "verify.sh": filepath.Join(filepath.Dir(script), "verify.sh")} {
		cmd := exec.Command("bash", script, archive, pub)
		cmd.Env = []string{"PATH=/nonexistent", "STELLA_KEY=" + pub, "STELLA=stella-not-installed"}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.HasPrefix(string(out), name+": stella-not-installed: not found: install the stella binary") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("%s without stella: %v\n%s", name, err, out)
		}
	}
	if tags := testutil.Tags(t, target); len(tags) != 0 {
		t.Fatalf("the registry holds %v", tags)
	}
	if out, err := run(); err == nil || !strings.Contains(out, "set STELLA_KEY") {
		t.Fatalf("load.sh without a trusted key: %v\n%s", err, out)
	}
	if out, err := run("STELLA_KEY=" + pub); err != nil {
		t.Fatalf("load.sh: %v\n%s", err, out)
	}
	client := testutil.Client(t)
	for _, img := range rel.Images {
		repo, _ := client.Repository(target + "/" + img.Repository)
		if d, err := repo.Resolve(context.Background(), img.Descriptor.Digest.String()); err != nil || d.Digest != img.Descriptor.Digest {
			t.Errorf("%s@%s missing after load.sh: %v", img.Repository, img.Descriptor.Digest, err)
		}
	}
	want, _ := os.ReadFile(script)
	shipped, _ := airgap.Scripts.ReadFile("load.sh")
	if !bytes.Equal(want, shipped) {
		t.Error("the bundle's scripts/load.sh differs from deploy/airgap/load.sh")
	}
}

// TestLoadScriptFlagsWithSpaces: load.sh and update.sh pass the arguments
// after the registry on to `stella mirror import`, so a flag whose value
// holds a space (an --advisories-dir under "/srv/stella ops") reaches it
// whole. STELLA_IMPORT_FLAGS, word-split, was the only way in: the
// directory came as two arguments (`accepts 1 arg(s), received 3`), and
// arguments after the registry were dropped without a word.
func TestLoadScriptFlagsWithSpaces(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	target := testutil.Distribution(t)
	work := filepath.Join(t.TempDir(), "stella ops")
	for _, name := range []string{"load.sh", "update.sh"} {
		script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", name)
		advisories := filepath.Join(work, name+" advisories")
		cmd := exec.Command("bash", script, archive, target, "--plain-http", "--advisories-dir", advisories)
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY="+pub, "DOCKER_CONFIG="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, feed := range []string{"nvd", "ghsa"} {
			if _, err := os.Stat(filepath.Join(advisories, feed+"-2025-12-01.json.gz")); err != nil {
				t.Errorf("%s: advisory not in %q: %v\n%s", name, advisories, err, out)
			}
		}
	}
}

// TestLoadScriptJSON: with --format json among the import flags, load.sh's
// stdout is the import's one JSON document, as docs/json.md promises of
// stella itself; its own "==> Importing …" and "==> Done!" lines go to
// stderr with the rest of the progress. They were on stdout, around the
// document, and a script reading it with jq failed.
func TestLoadScriptJSON(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	target := testutil.Distribution(t)
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "load.sh")
	cmd := exec.Command("bash", script, archive, target)
	cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY="+pub, "STELLA_IMPORT_FLAGS=--plain-http --format json", "DOCKER_CONFIG="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("load.sh: %v\n%s%s", err, out, stderr.String())
	}
	var res struct {
		Root string `json:"root"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&res); err != nil || res.Root == "" || dec.More() {
		t.Errorf("load.sh --format json: stdout is not one JSON document (%v):\n%s", err, out)
	}
}

// TestUpdateScriptWithoutExecBits: `bash scripts/update.sh` works where the
// scripts lost their execute bits (copied through a FAT32 stick or a
// Windows share), as `bash scripts/load.sh` does: it runs load.sh with
// bash. It executed load.sh itself, and stopped at "Permission denied"
// (exit 126).
func TestUpdateScriptWithoutExecBits(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	target := testutil.Distribution(t)
	scripts := t.TempDir()
	for _, name := range []string{"load.sh", "update.sh"} {
		data, err := airgap.Scripts.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", filepath.Join(scripts, "update.sh"), archive, target)
	cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY="+pub, "STELLA_IMPORT_FLAGS=--plain-http", "DOCKER_CONFIG="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash update.sh, its scripts mode 0644: %v\n%s", err, out)
	}
}

// TestLoadScriptFlagForRegistry: a flag where the registry goes
// (`load.sh bundle.tar --plain-http`) is refused, naming the order, before
// stella runs. It became the registry: "==> Importing bundle.tar into
// --plain-http", then a DNS lookup of "--plain-http".
func TestLoadScriptFlagForRegistry(t *testing.T) {
	for _, name := range []string{"load.sh", "update.sh"} {
		script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", name)
		cmd := exec.Command("bash", script, "bundle.tar", "--plain-http")
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY=cosign.pub")
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.HasPrefix(string(out), "load.sh: --plain-http: give the registry first") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("%s bundle.tar --plain-http: exit %d\n%s", name, code, out)
		}
	}
}

// TestLoadScriptKeyAmongFlags: a trusted key given among the import flags
// after the registry (load.sh BUNDLE REGISTRY --key PUB) does for
// STELLA_KEY, as --trust-root did; load.sh asked for STELLA_KEY all the
// same. --key-file (a client certificate's key) is no trusted key.
func TestLoadScriptKeyAmongFlags(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar.gz")
	target := testutil.Distribution(t)
	script := filepath.Join(testutil.ModuleRoot(t), "deploy", "airgap", "load.sh")
	for _, tc := range []struct {
		args    []string
		trusted bool
	}{
		{[]string{"--plain-http", "--key", pub}, true},
		{[]string{"--plain-http", "--key=" + pub}, true},
		{[]string{"--plain-http", "--key-file", pub}, false},
	} {
		cmd := exec.Command("bash", append([]string{script, archive, target}, tc.args...)...)
		cmd.Env = append(os.Environ(), "STELLA="+stellaBin, "STELLA_KEY=", "DOCKER_CONFIG="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if tc.trusted && err != nil {
			t.Errorf("load.sh %v: %v\n%s", tc.args, err, out)
		}
		if !tc.trusted && (err == nil || !strings.Contains(string(out), "set STELLA_KEY")) {
			t.Errorf("load.sh %v without STELLA_KEY: %v, want it asked for\n%s", tc.args, err, out)
		}
	}
}
