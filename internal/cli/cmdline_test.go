package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// parseCommandLine checks that a shell line running stella names a real
// command, with known flags, valid arguments and every required flag, the
// way cobra would before running it. Environment assignments before the
// command, a pipe into it and a trailing comment are allowed.
func parseCommandLine(line string) error {
	words, err := shellWords(line)
	if err != nil {
		return err
	}
	start := stellaAt(words)
	if start < 0 {
		return fmt.Errorf("no stella command in %q", line)
	}
	args := words[start+1:]
	for i, w := range args {
		if isOperator(w) || w == ">" || w == ")" {
			args = args[:i]
			break
		}
		if strings.HasSuffix(w, ")") { // the end of <(stella …)
			args = append(args[:i:i], strings.TrimSuffix(w, ")"))
			break
		}
	}
	root := NewRootCmd(&app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	for _, a := range rest {
		if a == "--help" || a == "-h" {
			if err := cmd.ParseFlags(rest); !errors.Is(err, pflag.ErrHelp) {
				return err
			}
			return nil
		}
	}
	if cmd.HasSubCommands() || !cmd.Runnable() {
		return fmt.Errorf("%q is not a command that runs", cmd.CommandPath())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}

// shellWords splits a line as a POSIX shell would, for the cases command
// lines in docs use: quotes, escapes, comments; $VARs stay as written.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
			i, inWord = j, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// joinContinuations joins lines that end in a backslash with the next.
func joinContinuations(text string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimRight(l, " \t")
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// stellaLines returns the lines of text that run stella.
func stellaLines(text string) []string {
	var out []string
	for _, l := range joinContinuations(text) {
		if words, err := shellWords(l); err == nil && stellaAt(words) >= 0 {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// stellaAt returns the index of the word that runs stella (stella,
// bin/stella, <(stella …), after environment assignments or a pipe), or -1.
func stellaAt(words []string) int {
	commandPos := true
	for i, w := range words {
		if isOperator(w) {
			commandPos = true
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(w, "<("), "$(")
		if commandPos && (name == "stella" || strings.HasSuffix(name, "/stella")) {
			return i
		}
		if commandPos && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(w) {
			continue
		}
		commandPos = false
	}
	return -1
}

func isOperator(w string) bool {
	return w == "|" || w == ";" || w == "&&" || w == "||" || w == "&"
}

// fencedBlocks returns the contents of a Markdown file's ```sh blocks.
func fencedBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case !in && (l == "```sh" || l == "```bash" || l == "```shell"):
			in, cur = true, nil
		case in && l == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// repoFile is a path relative to the module root.
func repoFile(rel string) string { return filepath.Join("..", "..", rel) }

// walkCommands calls fn for every command of the tree.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`stella mirror verify bundle/manifest.dsse --key cosign.pub  # check`, []string{"stella", "mirror", "verify", "bundle/manifest.dsse", "--key", "cosign.pub"}},
		{`echo "$P" | stella mirror login h -u 'a b' --password-stdin`, []string{"echo", "$P", "|", "stella", "mirror", "login", "h", "-u", "a b", "--password-stdin"}},
		{`A=1 stella x\ y "q\"r"`, []string{"A=1", "stella", "x y", `q"r`}},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.line)
		if err != nil || strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
}

// TestParseCommandLine: the checker itself refuses what cobra would.
func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
	}{
		{"stella mirror verify bundle/manifest.dsse --key cosign.pub", true},
		{"COSIGN_PASSWORD=x stella mirror keygen", true},
		{"stella mirror verify bundle/manifest.dsse --kee cosign.pub", false},
		{"stella mirror import bundle.tar --key k.pub", false}, // --registry is required
		{"stella mirror verify a b --key k", false},
		{"stella mirror frobnicate", false},
		{"stella mirror", false},
	}
	for _, tt := range tests {
		if err := parseCommandLine(tt.line); (err == nil) != tt.ok {
			t.Errorf("%q: %v, want ok=%v", tt.line, err, tt.ok)
		}
	}
}

// TestExamplesParse: every example of every command is a command line the
// CLI accepts.
func TestExamplesParse(t *testing.T) {
	root := NewRootCmd(&app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	walkCommands(root, func(c *cobra.Command) {
		for _, l := range stellaLines(c.Example) {
			if err := parseCommandLine(l); err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), l, err)
			}
		}
	})
}

// TestDocsCommandsParse: every stella command line in the README and the
// guides is one the CLI accepts, so flags cannot drift from the docs.
func TestDocsCommandsParse(t *testing.T) {
	files := []string{"README.md", "docs/INSTALL.md", "docs/VERIFY.md", "docs/TROUBLESHOOT.md", "docs/json.md"}
	for _, f := range files {
		n := 0
		for _, block := range fencedBlocks(t, repoFile(f)) {
			for _, l := range stellaLines(block) {
				n++
				if err := parseCommandLine(l); err != nil {
					t.Errorf("%s: %q: %v", f, l, err)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no stella command found in its ```sh blocks", f)
		}
	}
}
