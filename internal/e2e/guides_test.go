package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// shBlocks returns the ```sh blocks of a Markdown section (from its
// heading to the next heading of the same level).
func shBlocks(t *testing.T, file, heading string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no %q section", file, heading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "```sh\n")
		if !ok {
			return blocks
		}
		block, after, _ := strings.Cut(rest, "\n```\n")
		blocks, section = append(blocks, block), after
	}
}

// TestVerifyWithoutStella runs VERIFY.md's "Without stella" commands, as
// written, on a signed bundle packed as the guide's .tar.gz: extraction,
// sha256sum -c, cosign verify-blob, the openssl checks of both signatures
// and the key id. The bundle carries the repository's guides byte for byte,
// and an altered blob makes sha256sum -c fail.
func TestVerifyWithoutStella(t *testing.T) {
	for _, name := range []string{"bash", "sha256sum", "openssl", "base64", "cmp", "tar"} {
		tool(t, name)
	}
	tool(t, "cosign")
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar.gz")
	root := testutil.ModuleRoot(t)
	work := t.TempDir()
	copyFile(t, archive, filepath.Join(work, "stellaops-airgap-"+rel.Spec.Version+".tar.gz"))
	copyFile(t, pub, filepath.Join(work, "cosign.pub"))
	blocks := shBlocks(t, filepath.Join(root, "docs", "VERIFY.md"), "## Without stella")
	if len(blocks) < 4 {
		t.Fatalf("VERIFY.md, Without stella: %d blocks", len(blocks))
	}
	sh := func(script string) (string, error) {
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := sh(strings.Join(blocks, "\n"))
	if err != nil {
		t.Fatalf("VERIFY.md without stella: %v\n%s", err, out)
	}
	if n := strings.Count(out, "Verified OK"); n != 3 {
		t.Errorf("want 3 × Verified OK (cosign, openssl twice), got %d:\n%s", n, out)
	}
	m := regexp.MustCompile(`(?m)^([0-9a-f]{64})  -$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, `"keyid":"sha256:`+m[1]+`"`) {
		t.Errorf("the key id by hand does not match the envelope's:\n%s", out)
	}
	for _, guide := range []string{"INSTALL.md", "VERIFY.md", "TROUBLESHOOT.md"} {
		shipped, err := os.ReadFile(filepath.Join(work, "bundle", "docs", guide))
		want, _ := os.ReadFile(filepath.Join(root, "docs", guide))
		if err != nil || !bytes.Equal(shipped, want) {
			t.Errorf("bundle/docs/%s is not docs/%s (%v)", guide, guide, err)
		}
	}

	blobs, _ := filepath.Glob(filepath.Join(work, "bundle", "blobs", "sha256", "*"))
	data, _ := os.ReadFile(blobs[0])
	data[0] ^= 1
	os.WriteFile(blobs[0], data, 0o644)
	if out, err := sh(blocks[1]); err == nil || !strings.Contains(out, "FAILED") {
		t.Errorf("sha256sum -c passed an altered blob:\n%s", out)
	}
}

// TestVerifySplitWithoutStella runs VERIFY.md's "A split archive, without
// stella" as written on the volumes pack --split writes: they extract into
// the bundle, and sha256sum -c passes it; a volume missing fails. verify.sh
// sends an operator holding FILE.volumes.json to VERIFY.md to extract it,
// which said how only for one archive.
func TestVerifySplitWithoutStella(t *testing.T) {
	for _, name := range []string{"bash", "sha256sum", "tar", "zstd", "cat"} {
		tool(t, name)
	}
	archive, _, _ := signedBundle(t, sample.Spec{LayerSize: 1 << 20}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	work := t.TempDir()
	mustStella(t, "mirror", "pack", dir, "--output", filepath.Join(work, "stellaops-airgap-2025.11.0.tar.zst"), "--split", "1M")
	if vols, _ := filepath.Glob(filepath.Join(work, "*.00[0-9]")); len(vols) < 3 {
		t.Fatalf("%d volumes: the test needs several", len(vols))
	}
	blocks := shBlocks(t, filepath.Join(testutil.ModuleRoot(t), "docs", "VERIFY.md"), "## A split archive, without stella")
	if len(blocks) != 1 {
		t.Fatalf("VERIFY.md, A split archive: %d blocks", len(blocks))
	}
	sh := func(script string) (string, error) {
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := sh(blocks[0] + "\ncd bundle && sha256sum -c --quiet SHA256SUMS"); err != nil {
		t.Fatalf("VERIFY.md, A split archive: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(work, "bundle"))
	os.Remove(filepath.Join(work, "stellaops-airgap-2025.11.0.tar.zst.001"))
	if out, err := sh(blocks[0] + "\ncd bundle && sha256sum -c --quiet SHA256SUMS"); err == nil {
		t.Errorf("VERIFY.md, A split archive, a volume missing: passed\n%s", out)
	}
}

// TestVerifyWithoutStellaHostileSums pastes VERIFY.md's sha256sum and
// cosign block, as an operator would (no set -e), into a shell, on a bundle
// whose SHA256SUMS was altered to list /dev/zero: cosign refuses it, soon,
// and sha256sum does not read what it lists. The
// block ran sha256sum -c over the list before cosign checked the list's
// signature, so whoever altered the bundle chose what it read: /dev/zero
// never ends, and the check hung.
func TestVerifyWithoutStellaHostileSums(t *testing.T) {
	for _, name := range []string{"bash", "sha256sum", "tar"} {
		tool(t, name)
	}
	tool(t, "cosign")
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	work := t.TempDir()
	copyFile(t, pub, filepath.Join(work, "cosign.pub"))
	bundleDir := filepath.Join(work, "bundle")
	os.MkdirAll(bundleDir, 0o755)
	if out, err := exec.Command("tar", "-xf", archive, "-C", bundleDir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	sums := filepath.Join(bundleDir, "SHA256SUMS")
	data, _ := os.ReadFile(sums)
	data = append([]byte("0000000000000000000000000000000000000000000000000000000000000000  /dev/zero\n"), data...)
	os.WriteFile(sums, data, 0o644)
	blocks := shBlocks(t, filepath.Join(testutil.ModuleRoot(t), "docs", "VERIFY.md"), "## Without stella")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", blocks[1])
	cmd.Dir = work
	// On the timeout, the whole group goes: sha256sum too, which holds
	// the output pipe open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("VERIFY.md's block ran 30 s over a SHA256SUMS listing /dev/zero:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "invalid signature") || strings.Contains(string(out), ": OK") {
		t.Errorf("VERIFY.md's block on an altered SHA256SUMS: cosign must refuse it, and sha256sum not read it (%v):\n%s", err, out)
	}
}
