package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

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

// reportedError is a failure whose JSON form the command already wrote as
// part of its result (doctor's report of an unusable registry).
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// reportError prints err once, on one line: as JSON on stdout with
// --format json, else on stderr.
func (a *app) reportError(err error) {
	msg := oneLine(err)
	if p := (*errdef.Panic)(nil); errors.As(err, &p) {
		// A bug: said as one; with --verbose the stack of the goroutine
		// that panicked goes to stderr first, whatever the format.
		msg += " (a bug in stella, not a fault of the input: report it with the stack --verbose prints)"
		if a.global.verbose {
			a.stderr.Write(p.Stack)
		}
	}
	if a.global.format == "json" {
		if errors.As(err, new(reportedError)) {
			return
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(errorResult{Error: msg, ExitCode: ExitCode(err)})
		return
	}
	fmt.Fprintf(a.stderr, "stella: %s\n", msg)
}

// oneLine is an error's message on one line, safe to print: a line break
// becomes a space, and any other character that is not printable is
// escaped as Go would quote it (\x1b, \r, \u202e). Errors name files of a
// bundle directory, tags and a registry's own error text, all of which
// hostile media or a hostile registry choose; printed raw, a terminal
// escape in one could rewrite the screen or start a fake line.
func oneLine(err error) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(err.Error(), "\n", " ") {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\x1b'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// formatFromArgs returns the last --format value on a command line, for
// errors met before the flags were parsed.
func formatFromArgs(args []string) string {
	format := ""
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--format="); ok {
			format = v
		} else if a == "--format" && i+1 < len(args) {
			format = args[i+1]
		}
	}
	return format
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

// counted renders n with its noun, singular for one: "1 bundle", "2 bundles".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
