package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestNoProgressEscapesOnDumbTerminal: with TERM=dumb (Emacs' shell, a CI
// console that is a terminal but moves no cursor) the progress line was
// drawn with the ANSI erase "\033[K" all the same, which such a terminal
// prints as it is, "^[[K" before every redraw. No escape is written
// there; a terminal that can takes the progress line as before.
func TestNoProgressEscapesOnDumbTerminal(t *testing.T) {
	host := testutil.Registry(t)
	for _, tt := range []struct {
		term       string
		wantEscape bool
	}{
		{"dumb", false},
		{"xterm", true},
	} {
		t.Setenv("TERM", tt.term)
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		var term bytes.Buffer
		read := make(chan struct{})
		go func() {
			io.Copy(&term, ptmx)
			close(read)
		}()
		var stdout bytes.Buffer
		code := Execute(context.Background(), []string{"mirror", "push", repoFile("testdata/bundles/v1/full.tar"), host + "/" + tt.term + "/mirror-bundle", "--plain-http"},
			strings.NewReader(""), &stdout, tty)
		tty.Close()
		<-read
		ptmx.Close()
		if code != 0 {
			t.Fatalf("TERM=%s: push: exit %d\n%s", tt.term, code, term.String())
		}
		if got := strings.Contains(term.String(), "\x1b"); got != tt.wantEscape {
			t.Errorf("TERM=%s: escape written to the terminal: %v, want %v: %q", tt.term, got, tt.wantEscape, term.String())
		}
	}
}
