// Command gendocs regenerates the command reference in docs/cli from the
// stella command tree (`make docs`). It removes the pages of commands that
// no longer exist; internal/cli's tests fail when the checked-in pages are
// stale.
//
//	go run ./internal/cmd/gendocs docs/cli
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return cli.GenerateDocs(dir)
}
