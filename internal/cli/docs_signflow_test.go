package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocBlocksSignBeforePack: a shell block of the README or the guides
// that creates a bundle directory and packs it signs it in between, as
// import, serve and verify refuse an unsigned bundle (exit 5). The
// README's "Using it" went create, pack, inspect, then import --key on the
// far side: followed as written, the import failed, "bundle is not signed
// (no manifest.dsse)".
func TestDocBlocksSignBeforePack(t *testing.T) {
	docs, _ := filepath.Glob(repoFile("docs/*.md"))
	for _, doc := range append(docs, repoFile("README.md")) {
		for _, block := range fencedBlocks(t, doc) {
			created, signed := map[string]bool{}, map[string]bool{}
			for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
				words, err := shellWords(line)
				start := stellaAt(words)
				if err != nil || start < 0 || len(words) < start+3 || words[start+1] != "mirror" {
					continue
				}
				args := words[start+2:]
				switch args[0] {
				case "create":
					for i, a := range args {
						if a == "--output" && i+1 < len(args) {
							created[filepath.Clean(args[i+1])] = true
						}
					}
				case "sign":
					if len(args) > 1 {
						signed[filepath.Dir(filepath.Clean(args[1]))] = true
					}
				case "pack":
					if len(args) > 1 {
						if dir := filepath.Clean(args[1]); created[dir] && !signed[dir] {
							t.Errorf("%s: packs %s, which the block creates, without signing it first:\n%s", filepath.Base(doc), args[1], block)
						}
					}
				}
			}
		}
	}
}

// TestDocsNeverTrustTheBundlesKey: no command the README or the guides
// give verifies with the public-key.pem that travels in the bundle, which
// whoever altered the bundle could have altered too. The README's signing
// section gave `cosign verify-blob --key public-key.pem …` as the check of
// SHA256SUMS.sig, the very trust the guides warn against.
func TestDocsNeverTrustTheBundlesKey(t *testing.T) {
	docs, _ := filepath.Glob(repoFile("docs/*.md"))
	cli, _ := filepath.Glob(repoFile("docs/cli/*.md"))
	bad := regexp.MustCompile(`(--key|--trust-root|-verify)[ =]+\S*public-key\.pem`)
	for _, doc := range append(append(docs, cli...), repoFile("README.md")) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := bad.FindString(line); m != "" {
				t.Errorf("%s:%d: %q verifies with the bundle's own key: give the trusted key received out of band (cosign.pub)", filepath.Base(doc), i+1, m)
			}
		}
	}
}
