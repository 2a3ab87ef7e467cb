package cli

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCLIReferenceUpToDate regenerates the command reference and compares
// it with docs/cli, naming every stale, missing or orphaned page.
func TestCLIReferenceUpToDate(t *testing.T) {
	fresh := t.TempDir()
	if err := GenerateDocs(fresh); err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if err := GenerateDocs(again); err != nil {
		t.Fatal(err)
	}
	checked := repoFile("docs/cli")
	want, _ := filepath.Glob(filepath.Join(fresh, "*.md"))
	if len(want) == 0 {
		t.Fatal("GenerateDocs wrote no page")
	}
	for _, f := range want {
		name := filepath.Base(f)
		gen, _ := os.ReadFile(f)
		if second, _ := os.ReadFile(filepath.Join(again, name)); !bytes.Equal(gen, second) {
			t.Errorf("%s: two generations differ: the reference is not deterministic", name)
		}
		have, err := os.ReadFile(filepath.Join(checked, name))
		switch {
		case err != nil:
			t.Errorf("docs/cli/%s is missing: run `make docs`", name)
		case !bytes.Equal(have, gen):
			t.Errorf("docs/cli/%s is stale: run `make docs`", name)
		}
	}
	have, _ := filepath.Glob(filepath.Join(checked, "*.md"))
	for _, f := range have {
		if _, err := os.Stat(filepath.Join(fresh, filepath.Base(f))); err != nil {
			t.Errorf("docs/cli/%s documents no command: run `make docs`", filepath.Base(f))
		}
	}
}

// TestEveryCommandHasExample walks the whole tree, cobra's own help and
// completion commands included.
func TestEveryCommandHasExample(t *testing.T) {
	root := NewRootCmd(&app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	var names []string
	walkCommands(root, func(c *cobra.Command) {
		names = append(names, c.CommandPath())
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
	})
	for _, want := range []string{"stella completion bash", "stella mirror doctor", "stella help"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not in the tree: %v", want, names)
		}
	}
}

// TestCompletion: stella completion bash|zsh|fish print scripts for stella
// (the bash one passes bash -n), and the completion protocol offers the
// commands and --format's values.
func TestCompletion(t *testing.T) {
	marks := map[string]string{"bash": "__start_stella", "zsh": "#compdef stella", "fish": "complete -c stella"}
	for shell, mark := range marks {
		code, stdout, stderr := run(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, mark) || stderr != "" {
			t.Errorf("completion %s: exit %d, %d bytes without %q, stderr %q", shell, code, len(stdout), mark, stderr)
		}
		if shell == "bash" {
			if bash, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command(bash, "-n")
				cmd.Stdin = strings.NewReader(stdout)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n on the bash completion: %v\n%s", err, out)
				}
			}
		}
	}
	if code, _, _ := run(t, "completion", "tcsh"); code != 1 {
		t.Errorf("completion tcsh: exit %d, want 1", code)
	}
	_, stdout, _ := run(t, "__complete", "mirror", "")
	for _, want := range []string{"doctor", "import", "verify-checksums"} {
		if !strings.Contains(stdout, want+"\t") {
			t.Errorf("__complete mirror: %q not offered:\n%s", want, stdout)
		}
	}
	_, stdout, _ = run(t, "__complete", "mirror", "inspect", "--format", "")
	if !strings.HasPrefix(stdout, "text\njson\n") {
		t.Errorf("__complete --format: %q", stdout)
	}
}

// TestTroubleshootCoversEveryExitCode: every Exit* constant of exit.go has
// a row in TROUBLESHOOT.md's table, with a cause and an action.
func TestTroubleshootCoversEveryExitCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "exit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					codes = append(codes, lit.Value)
				}
			}
		}
	}
	if len(codes) < 8 {
		t.Fatalf("exit.go: found only the codes %v", codes)
	}
	data, err := os.ReadFile(repoFile("docs/TROUBLESHOOT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		row := regexp.MustCompile(`(?m)^\| ` + code + ` \|([^|]+)\|([^|]*)\|([^|]*)\|$`).FindStringSubmatch(string(data))
		switch {
		case row == nil:
			t.Errorf("TROUBLESHOOT.md has no row for exit code %s", code)
		case code != "0" && (strings.TrimSpace(row[2]) == "" || strings.TrimSpace(row[3]) == ""):
			t.Errorf("TROUBLESHOOT.md, exit code %s: no cause or no action", code)
		}
	}
}
