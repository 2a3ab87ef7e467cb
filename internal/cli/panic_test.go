package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// panicWriter is a stdout with a bug: its first writes panic, the rest
// are kept.
type panicWriter struct {
	panics int
	bytes.Buffer
}

func (w *panicWriter) Write(p []byte) (int, error) {
	if w.panics > 0 {
		w.panics--
		panic("test: stdout broke")
	}
	return w.Buffer.Write(p)
}

// TestPanicIsInternalErrorNotDigestMismatch: a panic of the run (here in a
// write to stdout, in the command's own goroutine) ends it with exit code
// 1 and one line saying it is an internal error, in text and in --format
// json; with --verbose the stack of the goroutine that panicked goes to
// stderr before it. Unrecovered, Go's crash exited 2, which DESIGN.md
// gives to a checksum or digest mismatch: a script took a bug for a
// tampered bundle.
func TestPanicIsInternalErrorNotDigestMismatch(t *testing.T) {
	const want = "internal error: panic: test: stdout broke (a bug in stella, not a fault of the input: report it with the stack --verbose prints)"
	ctx := context.Background()

	var stderr bytes.Buffer
	code := Execute(ctx, []string{"version"}, strings.NewReader(""), &panicWriter{panics: 1}, &stderr)
	if code != ExitInput || stderr.String() != "stella: "+want+"\n" {
		t.Errorf("version: exit %d, stderr %q; want %d, %q", code, stderr.String(), ExitInput, "stella: "+want+"\n")
	}

	stdout := &panicWriter{panics: 1}
	stderr.Reset()
	code = Execute(ctx, []string{"version", "--format", "json"}, strings.NewReader(""), stdout, &stderr)
	var res errorResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || code != ExitInput || res != (errorResult{Error: want, ExitCode: ExitInput}) || stderr.Len() != 0 {
		t.Errorf("version --format json: exit %d, stdout %q (%v), stderr %q; want %d, error %q", code, stdout.String(), err, stderr.String(), ExitInput, want)
	}

	// stella mirror with no command prints its help to stdout.
	stderr.Reset()
	code = Execute(ctx, []string{"mirror", "--verbose"}, strings.NewReader(""), &panicWriter{panics: 1 << 20}, &stderr)
	stack, line, _ := strings.Cut(stderr.String(), "stella: ")
	if code != ExitInput || line != want+"\n" || !strings.HasPrefix(stack, "goroutine ") || !strings.Contains(stack, "panicWriter") {
		t.Errorf("mirror --verbose: exit %d, stderr %q; want %d, the stack of the panic, then %q", code, stderr.String(), ExitInput, "stella: "+want+"\n")
	}
}
