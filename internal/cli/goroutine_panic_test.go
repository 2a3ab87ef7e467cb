package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// panicIn is a context with a bug injected at one goroutine site: its
// Value, which every request the run sends asks (net/http's trace, oras's
// scopes), panics when asked from a goroutine whose stack holds a function
// whose name holds site, the closure a site starts, and nowhere else.
type panicIn struct {
	context.Context
	site string
}

func (c panicIn) Value(key any) any {
	pcs := make([]uintptr, 512)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, c.site) {
			panic("test: a bug in " + c.site)
		}
		if !more {
			return c.Context.Value(key)
		}
	}
}

// TestGoroutinePanicIsInternalError: a panic (a bug) in a goroutine that
// pkg/mirror starts (an errgroup's worker, a read started ahead, the
// generation check beside the placement) ends the run with exit code 1
// and one line, "…internal error: panic: … (a bug in stella, …)", as one in
// the command's own goroutine does since 93d6372. It ended the process
// with Go's exit code 2, a digest mismatch's, so a script took a bug for a
// tampered bundle. The generation check's verification of held roots
// (generation) dropped its workers' errors, each kept beside them: a
// recovered panic there left its root's nil, which would be taken for the
// root verified.
func TestGoroutinePanicIsInternalError(t *testing.T) {
	_, tar, pub := signedTestBundle(t)
	host := testutil.Registry(t)
	importArgs := []string{"mirror", "import", tar, "--registry", host, "--plain-http", "--key", pub}
	if code, _, stderr := run(t, importArgs...); code != 0 {
		t.Fatalf("first import: exit %d: %s", code, stderr)
	}
	// Into a registry holding nothing: every manifest asked for.
	freshImport := []string{"mirror", "import", tar, "--registry", testutil.Registry(t), "--plain-http", "--key", pub}
	inventory := []string{"mirror", "inventory", "--registry", host, "--plain-http", "--bundle-key", pub, "--output", filepath.Join(t.TempDir(), "inventory.json")}
	for _, tc := range []struct {
		site string
		args []string
	}{
		{"mirror.(*target).generation.func", importArgs},        // errgroup.Group, errors kept beside
		{"mirror.startCheck.func", importArgs},                  // go func: the generation check beside
		{"mirror.(*target).presentManifests.func", freshImport}, // errgroup.WithContext, asked ahead (go func)
		{"mirror.(*target).pushPhase.func", freshImport},        // errgroup.WithContext
		{"mirror.(*target).holding.func", inventory},
		{"mirror.(*placer).run.func", importArgs}, // errgroup.WithContext
		{"mirror.(*target).bundleRoots.func", inventory},
	} {
		t.Run(tc.site, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Execute(panicIn{context.Background(), tc.site}, tc.args, strings.NewReader(""), &stdout, &stderr)
			line := stderr.String()
			if code != ExitInput || strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "stella: ") ||
				!strings.Contains(line, "internal error: panic: test: a bug in "+tc.site) ||
				!strings.HasSuffix(line, " (a bug in stella, not a fault of the input: report it with the stack --verbose prints)\n") {
				t.Errorf("exit %d, stderr %q; want %d and the one line of an internal error", code, line, ExitInput)
			}
		})
	}
}

// panicReader is a stdin with a bug: a read panics.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("test: stdin broke") }

// TestPasswordReadPanicIsInternalError: a panic (a bug) of the read of
// login's --password-stdin, which reads in a goroutine of its own so that
// Ctrl-C ends the wait (readLine), ends the run with exit code 1 and the
// one line of an internal error; it ended the process with Go's exit code
// 2, a digest mismatch's.
func TestPasswordReadPanicIsInternalError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Execute(t.Context(), []string{"mirror", "login", "127.0.0.1:1", "-u", "mirror", "--password-stdin", "--plain-http"}, panicReader{}, &stdout, &stderr)
	const want = "stella: internal error: panic: test: stdin broke (a bug in stella, not a fault of the input: report it with the stack --verbose prints)\n"
	if code != ExitInput || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout.String(), stderr.String(), ExitInput, want)
	}
}
