package cli

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// docsHeader opens every generated reference page.
const docsHeader = "<!-- Generated from the stella commands by `make docs`; do not edit. -->\n\n"

// GenerateDocs writes the command reference, one Markdown page per command
// (stella.md, stella_mirror_import.md, …), into dir, which must exist. The
// pages carry no generation date, so the same commands give the same bytes.
func GenerateDocs(dir string) error {
	root := NewRootCmd(&app{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	prepend := func(string) string { return docsHeader }
	link := func(name string) string { return filepath.Base(name) }
	return doc.GenMarkdownTreeCustom(root, dir, prepend, link)
}
