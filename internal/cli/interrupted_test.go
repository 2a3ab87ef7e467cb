package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestInterruptedSaysWhatToDo: a run stopped by Ctrl-C, SIGTERM or SIGHUP exits
// 130 with one line that says what stopped it and what to do next (run the
// same command again: TROUBLESHOOT.md, exit 130), not Go's "context
// canceled"; the same line in --format json.
func TestInterruptedSaysWhatToDo(t *testing.T) {
	host := testutil.Registry(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	const want = "interrupted (Ctrl-C, SIGTERM, or a hang-up: SIGHUP): run the same command again to finish it"
	var stdout, stderr bytes.Buffer
	code := Execute(ctx, []string{"mirror", "doctor", "--registry", host, "--plain-http"}, strings.NewReader(""), &stdout, &stderr)
	if code != ExitInterrupted || stderr.String() != "stella: "+want+"\n" {
		t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), ExitInterrupted, "stella: "+want+"\n")
	}
	stdout.Reset()
	stderr.Reset()
	code = Execute(ctx, []string{"mirror", "doctor", "--registry", host, "--plain-http", "--format", "json"}, strings.NewReader(""), &stdout, &stderr)
	var res errorResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || code != ExitInterrupted || res.Error != want || res.ExitCode != ExitInterrupted {
		t.Errorf("exit %d, stdout %q (%v); want %q, exitCode %d", code, stdout.String(), err, want, ExitInterrupted)
	}
	if !errors.Is(interrupted, context.Canceled) {
		t.Error("interrupted is not context.Canceled")
	}
}
