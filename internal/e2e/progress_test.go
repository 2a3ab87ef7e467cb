package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// runOnTerminal runs the binary with stderr on a pseudo-terminal (stdout
// and stdin stay pipes) and returns its exit code, stdout, and what it
// wrote to the terminal.
func runOnTerminal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(stellaBin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds its own copy
	var term bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&term, ptmx) // ends with EIO once the child has exited
		close(read)
	}()
	err = cmd.Wait()
	<-read
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), term.String()
}

// TestProgressOnlyOnATerminal: create draws progress on stderr when stderr
// is a terminal, not with --quiet, and not when stderr is a pipe; stdout
// carries only the result (one JSON document) in every case.
func TestProgressOnlyOnATerminal(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	create := func(extra ...string) []string {
		out := filepath.Join(t.TempDir(), "bundle")
		return append([]string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", out, "--plain-http", "--format", "json"}, extra...)
	}
	checkStdout := func(name, stdout string) {
		t.Helper()
		var v map[string]any
		dec := json.NewDecoder(strings.NewReader(stdout))
		if err := dec.Decode(&v); err != nil || dec.More() || strings.ContainsAny(stdout, "\r\x1b") {
			t.Errorf("%s: stdout is not one clean JSON document (%v):\n%q", name, err, stdout)
		}
	}
	const progress = "create: " // the progress line: "create: N blobs, SIZE, RATE"

	code, stdout, term := runOnTerminal(t, create()...)
	if code != 0 {
		t.Fatalf("create on a terminal: exit %d\n%s", code, term)
	}
	checkStdout("terminal", stdout)
	if !strings.Contains(term, progress) || !strings.Contains(term, " blobs, ") || !strings.Contains(term, "\r") {
		t.Errorf("no progress on the terminal:\n%q", term)
	}

	code, stdout, term = runOnTerminal(t, create("--quiet")...)
	if code != 0 {
		t.Fatalf("create --quiet on a terminal: exit %d\n%s", code, term)
	}
	checkStdout("--quiet", stdout)
	if strings.Contains(term, progress) {
		t.Errorf("progress on the terminal despite --quiet:\n%q", term)
	}

	r := stella(t, nil, create()...)
	if r.code != 0 {
		t.Fatalf("create with stderr on a pipe: exit %d\n%s", r.code, r.stderr)
	}
	checkStdout("pipe", r.stdout)
	if strings.Contains(r.stderr, progress) || strings.Contains(r.stderr, "\r") {
		t.Errorf("progress on a pipe:\n%q", r.stderr)
	}
}
