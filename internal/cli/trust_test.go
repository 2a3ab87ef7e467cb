package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// --threshold is refused as usage (exit 1) where it cannot mean what it
// says: below 1, above the distinct keys given, or with nobody trusted
// (inspect, like pull, push and sync, used to skip the check and exit 0).
func TestThresholdUsage(t *testing.T) {
	signed, pub := signedWithNewKey(t)
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"threshold 1", []string{"verify", signed, "--key", pub, "--threshold", "1"}, ExitOK, ""},
		{"threshold 0", []string{"verify", signed, "--key", pub, "--threshold", "0"}, ExitInput, "--threshold 0: must be at least 1"},
		{"one key, threshold 2", []string{"verify", signed, "--key", pub, "--threshold", "2"}, ExitInput, "--threshold 2 exceeds the 1 distinct trusted key"},
		{"one key twice, threshold 2", []string{"import", signed, "--registry", "127.0.0.1:1", "--key", pub, "--key", pub, "--threshold", "2"}, ExitInput, "--threshold 2 exceeds the 1 distinct trusted key"},
		{"inspect, nobody trusted", []string{"inspect", signed, "--threshold", "2"}, ExitInput, "--threshold 2 needs --key or --trust-root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"mirror"}, tt.args...)...)
			if code != tt.want || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("exit %d, want %d saying %q\n%s%s", code, tt.want, tt.msg, stdout, stderr)
			}
		})
	}
}

// inspect without a trusted key says the signature was not checked: a bare
// "Signed true" read as verified, for media signed by anyone at all.
func TestInspectSaysUnverified(t *testing.T) {
	signed, pub := signedWithNewKey(t)
	code, stdout, stderr := run(t, "mirror", "inspect", signed)
	if code != ExitOK || !strings.Contains(stdout, "Signed     true (not verified: give --key or --trust-root)\n") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "mirror", "inspect", signed, "--key", pub)
	if code != ExitOK || !strings.Contains(stdout, "Signed     true\nVerified   signed by sha256:") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

// signedWithNewKey returns a test bundle signed with a key pair keygen
// just made, and that pair's public key.
func signedWithNewKey(t *testing.T) (signed, pub string) {
	t.Helper()
	signed = testBundle(t)
	keyDir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(keyDir, "a")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(signed, "manifest.json"), "--key", filepath.Join(keyDir, "a.key"), "--output", filepath.Join(signed, "manifest.dsse")); code != 0 {
		t.Fatal(stderr)
	}
	return signed, filepath.Join(keyDir, "a.pub")
}

// --bundle-threshold above 1 with no --bundle-key or --bundle-trust-root
// is refused naming the prefixed flags, on one clean line; the format's
// indexed verbs left the usage error's %w reading the threshold, and the
// line ended "%!w(int=2)", wrapping no kind of failure.
func TestBundleThresholdUsage(t *testing.T) {
	_, pub := signedWithNewKey(t)
	for _, args := range [][]string{
		{"catalog", "127.0.0.1:1/stellaops/mirror-bundle", "--verify", "--key", pub, "--bundle-threshold", "2"},
		{"inventory", "--registry", "127.0.0.1:1", "--output", filepath.Join(t.TempDir(), "inventory.json"), "--bundle-threshold", "2"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"mirror"}, args...)...)
			const want = "stella: --bundle-threshold 2 needs --bundle-key or --bundle-trust-root: invalid usage\n"
			if code != ExitInput || stderr != want {
				t.Fatalf("exit %d, want %d saying %q\n%s%s", code, ExitInput, want, stdout, stderr)
			}
		})
	}
}

// A --bundle-threshold no bundle can meet names --bundle-threshold and
// --bundle-key: it named --threshold, which inventory has not, and --key,
// which is inventory's and catalog's own signing key.
func TestBundleThresholdNamesBundleFlags(t *testing.T) {
	_, pub := signedWithNewKey(t)
	code, stdout, stderr := run(t, "mirror", "inventory", "--registry", "127.0.0.1:1", "--output", filepath.Join(t.TempDir(), "inventory.json"),
		"--bundle-key", pub, "--bundle-key", pub, "--bundle-threshold", "2")
	const want = "--bundle-threshold 2 exceeds the 1 distinct trusted key(s) --bundle-key gives"
	if code != ExitInput || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, want %d saying %q\n%s%s", code, ExitInput, want, stdout, stderr)
	}
}
