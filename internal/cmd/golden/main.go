// Command golden makes a new generation of golden bundles for the
// compatibility test (testdata/README.md):
//
//	go run ./internal/cmd/golden -out testdata/bundles/v2
//
// It refuses a directory that exists: old generations are kept for ever.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/stellaops/mirror/internal/golden"
)

func main() {
	out := flag.String("out", "", "the new generation's directory (testdata/bundles/vN); must not exist")
	commit := flag.String("commit", "", "the stella commit to record (default: git HEAD)")
	flag.Parse()
	gen, err := golden.Generate(context.Background(), golden.Options{Out: *out, Commit: *commit})
	if err != nil {
		fmt.Fprintln(os.Stderr, "golden:", err)
		os.Exit(1)
	}
	for _, b := range gen.Bundles {
		fmt.Printf("%-6s %s %v\n", b.Name, b.Root, b.Forms)
	}
	fmt.Printf("wrote %s (stella %s, schemaVersion %d)\n", *out, gen.Commit, gen.SchemaVersion)
}
