package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stellaops/mirror/pkg/errdef"
)

// emit writes a command's result: as indented JSON with --format json,
// otherwise through the command's text printer. Results go to stdout only.
func (a *app) emit(result any, text func(w io.Writer)) error {
	switch a.global.format {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	case "text", "":
		text(a.stdout)
		return nil
	}
	return fmt.Errorf("--format %q: want text or json: %w", a.global.format, errdef.ErrUsage)
}

// errorResult is the JSON form of a failure.
type errorResult struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exitCode"`
}

// reportError prints err once, on one line: as JSON on stdout with
// --format json, else on stderr.
func (a *app) reportError(err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if a.global.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(errorResult{Error: msg, ExitCode: ExitCode(err)})
		return
	}
	fmt.Fprintf(a.stderr, "stella: %s\n", msg)
}

// humanBytes renders a byte count in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
