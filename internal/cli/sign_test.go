package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// run executes stella in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// testBundle creates a real bundle from the sample release.
func testBundle(t *testing.T) string {
	t.Helper()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	_, err := mirror.Create(context.Background(), mirror.CreateOptions{
		ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: out, Created: time.Now(),
		Client: testutil.Client(t), Producer: bundle.Producer{Name: "stella mirror", Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMissingPasswordWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(dir, "k")); code != 0 {
		t.Fatal(stderr)
	}
	os.Unsetenv("COSIGN_PASSWORD")
	manifest := filepath.Join(dir, "manifest.json")
	os.WriteFile(manifest, []byte("{}\n"), 0o644)
	code, _, stderr := run(t, "mirror", "sign", manifest, "--key", filepath.Join(dir, "k.key"))
	if code != ExitInput || !strings.Contains(stderr, "COSIGN_PASSWORD") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(dir, "k2"))
	if code != ExitInput || !strings.Contains(stderr, "COSIGN_PASSWORD") {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
}

func TestKeygenNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cosign")
	t.Setenv("COSIGN_PASSWORD", "x")
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", prefix); code != 0 {
		t.Fatal(stderr)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v: %v", st.Mode(), err)
	}
	before, _ := os.ReadFile(prefix + ".key")
	if code, _, _ := run(t, "mirror", "keygen", "--output-key-prefix", prefix); code != ExitInput {
		t.Fatalf("overwrote without --force: exit %d", code)
	}
	if after, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(before, after) {
		t.Fatal("the key changed")
	}
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", prefix, "--force"); code != 0 {
		t.Fatal(stderr)
	}
	if after, _ := os.ReadFile(prefix + ".key"); bytes.Equal(before, after) {
		t.Fatal("--force did not replace the key")
	}
}

// Exit codes of DESIGN.md: 5 signature, 2 digest, 11 malformed, 1 missing.
func TestVerifyExitCodes(t *testing.T) {
	signed := testBundle(t)
	keyDir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	for _, k := range []string{"a", "b"} {
		if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(keyDir, k)); code != 0 {
			t.Fatal(stderr)
		}
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(signed, "manifest.json"), "--key", filepath.Join(keyDir, "a.key"), "--output", filepath.Join(signed, "manifest.dsse")); code != 0 {
		t.Fatal(stderr)
	}
	pubA, pubB := filepath.Join(keyDir, "a.pub"), filepath.Join(keyDir, "b.pub")
	flip := func(rel string, at int) func(string) {
		return func(d string) {
			p := filepath.Join(d, rel)
			data, _ := os.ReadFile(p)
			data[at] ^= 1
			os.WriteFile(p, data, 0o644)
		}
	}
	tests := []struct {
		name   string
		tamper func(dir string)
		args   func(dir string) []string
		want   int
	}{
		{"ok", func(string) {}, func(d string) []string {
			return []string{"mirror", "verify", filepath.Join(d, "manifest.dsse"), "--key", pubA}
		}, ExitOK},
		{"other key", func(string) {}, func(d string) []string {
			return []string{"mirror", "verify", filepath.Join(d, "manifest.dsse"), "--key", pubB}
		}, ExitSignature},
		{"threshold 2", func(string) {}, func(d string) []string {
			return []string{"mirror", "verify", filepath.Join(d, "manifest.dsse"), "--key", pubA, "--key", pubB, "--threshold", "2"}
		}, ExitSignature},
		{"manifest.json", flip("manifest.json", 40), func(d string) []string { return []string{"mirror", "verify", d, "--key", pubA} }, ExitSignature},
		{"envelope malformed", func(d string) { os.WriteFile(filepath.Join(d, "manifest.dsse"), []byte("{"), 0o644) },
			func(d string) []string { return []string{"mirror", "verify", d, "--key", pubA} }, ExitMalformed},
		{"script", flip("scripts/load.sh", 10), func(d string) []string { return []string{"mirror", "verify", d, "--key", pubA} }, ExitDigest},
		{"checksums", flip("docs/INSTALL.md", 10), func(d string) []string { return []string{"mirror", "verify-checksums", d, "--key", pubA} }, ExitDigest},
		{"unsigned, by its envelope path", func(d string) { os.Remove(filepath.Join(d, "manifest.dsse")) }, func(d string) []string {
			return []string{"mirror", "verify", filepath.Join(d, "manifest.dsse"), "--key", pubA}
		}, ExitSignature},
		{"missing envelope", func(string) {}, func(d string) []string {
			return []string{"mirror", "verify", filepath.Join(d, "nope.dsse"), "--key", pubA}
		}, ExitInput},
		{"missing key", func(string) {}, func(d string) []string { return []string{"mirror", "verify", d, "--key", filepath.Join(d, "nope.pub")} }, ExitInput},
		{"no key", func(string) {}, func(d string) []string { return []string{"mirror", "verify", d} }, ExitInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := os.CopyFS(dir, os.DirFS(signed)); err != nil {
				t.Fatal(err)
			}
			tt.tamper(dir)
			code, stdout, stderr := run(t, tt.args(dir)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.want, stdout, stderr)
			}
		})
	}
}
