package cli

import (
	"fmt"
	"io"
)

// printSkipped says, under a result, whether the bundle roots it counts
// were verified, and how many were left out and why (each is named on
// stderr).
func printSkipped(w io.Writer, verified bool, notVerified, newer int) {
	if !verified {
		fmt.Fprintln(w, "Bundle roots not verified (no --bundle-key)")
	}
	if notVerified > 0 {
		fmt.Fprintf(w, "Skipped %s that did not verify\n", counted(notVerified, "bundle root"))
	}
	if newer > 0 {
		fmt.Fprintf(w, "Skipped %s made by a newer stella\n", counted(newer, "bundle root"))
	}
}
