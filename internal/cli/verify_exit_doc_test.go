package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestVerifyExitCodesAsVERIFYmd holds the exit codes docs/VERIFY.md (the
// guide in every bundle) gives for verify to what verify does: it said
// that a bundle directory missing its manifest.json, its index.json or its
// envelope exits 1, "not found", where verify exits 11 (malformed) for the
// first two and 5 (not signed) for the third, as TROUBLESHOOT.md says.
// Each case is a damage done to a signed bundle, the exit code verify
// gives, and the words under that code in VERIFY.md's "Exit codes:".
func TestVerifyExitCodesAsVERIFYmd(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "config.json"), []byte("{}"), 0o600)
	t.Setenv("DOCKER_CONFIG", work)
	t.Setenv("COSIGN_PASSWORD", "stellaops-dev")
	root := testutil.ModuleRoot(t)
	signed := testBundle(t)
	if code, stdout, stderr := run(t, "mirror", "sign", filepath.Join(signed, "manifest.json"), "--key", filepath.Join(root, "tools/cosign/cosign.dev.key")); code != 0 {
		t.Fatalf("sign: exit %d: %s%s", code, stdout, stderr)
	}
	pub := filepath.Join(root, "tools/cosign/cosign.pub")
	if code, stdout, stderr := run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(work, "other")); code != 0 {
		t.Fatalf("keygen: exit %d: %s%s", code, stdout, stderr)
	}
	codes := verifyExitCodes(t, filepath.Join(root, "docs/VERIFY.md"))
	for _, tt := range []struct {
		name   string
		remove string // a file of the bundle removed first
		arg    string // what verify is given, in the damaged copy
		key    string
		code   int
		words  string // under that code in VERIFY.md
	}{
		{"verified", "", ".", pub, ExitOK, "verified"},
		{"no manifest.json", "manifest.json", ".", pub, ExitMalformed, "manifest.json"},
		{"no index.json", "index.json", ".", pub, ExitMalformed, "index.json"},
		{"no envelope", "manifest.dsse", ".", pub, ExitSignature, "`manifest.dsse`"},
		{"no bundle", "", "elsewhere", pub, ExitInput, "the bundle"},
		{"no key", "", ".", "nokey.pub", ExitInput, "the key"},
		{"wrong key", "", ".", filepath.Join(work, "other.pub"), ExitSignature, "wrong or untrusted key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if err := os.CopyFS(dir, os.DirFS(signed)); err != nil {
				t.Fatal(err)
			}
			if tt.remove != "" {
				os.Remove(filepath.Join(dir, tt.remove))
			}
			arg := dir
			if tt.arg != "." {
				arg = filepath.Join(dir, tt.arg)
			}
			code, stdout, stderr := run(t, "mirror", "verify", arg, "--key", tt.key)
			if code != tt.code {
				t.Fatalf("verify exit %d, want %d: %s%s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(codes[code], tt.words) {
				t.Errorf("VERIFY.md says of exit %d %q, which does not name %q", code, codes[code], tt.words)
			}
			for other, says := range codes {
				if other != code && tt.remove != "" && strings.Contains(says, "`"+tt.remove+"`") {
					t.Errorf("VERIFY.md gives exit %d for a missing %s (%q); verify exits %d", other, tt.remove, says, code)
				}
			}
		})
	}
}

// verifyExitCodes reads the "Exit codes:" paragraph of VERIFY.md into
// what it says under each code: "N words" items separated by ", " outside
// parentheses.
func verifyExitCodes(t *testing.T, path string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	at := strings.Index(text, "Exit codes: ")
	if at < 0 {
		t.Fatal("VERIFY.md has no Exit codes: paragraph")
	}
	para := text[at+len("Exit codes: "):]
	if end := strings.Index(para, "\n\n"); end >= 0 {
		para = para[:end]
	}
	para = strings.Join(strings.Fields(para), " ")
	var items []string
	depth, start := 0, 0
	for i, r := range para {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ',' && depth == 0 && strings.HasPrefix(para[i:], ", "):
			items = append(items, para[start:i])
			start = i + 2
		}
	}
	items = append(items, para[start:])
	codes := map[int]string{}
	lead := regexp.MustCompile(`^(\d+) `)
	for _, it := range items {
		m := lead.FindStringSubmatch(it)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		codes[n] = it
	}
	if len(codes) < 6 {
		t.Fatalf("VERIFY.md's exit codes do not parse: %q", para)
	}
	return codes
}
