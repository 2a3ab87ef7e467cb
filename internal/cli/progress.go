package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/term"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// progress installs a progress line on stderr into opts when stderr is a
// terminal and --quiet is not set, and returns the function that ends it.
// Progress never goes to stdout, which carries only results. A panic (a
// bug) of the drawing ends the line, not the transfer, which goes on to
// its end: the function that ends it returns the panic, the run's error
// if it had none (exit 1, never Go's crash code 2, a digest mismatch's).
func (a *app) progress(opts *transfer.Options, label string) func() error {
	f, ok := a.stderr.(*os.File)
	if !ok || a.global.quiet || !term.IsTerminal(int(f.Fd())) {
		return func() error { return nil }
	}
	p := &progressLine{w: a.stderr, label: label, start: time.Now(), done: make(chan struct{}), plain: os.Getenv("TERM") == "dumb"}
	opts.Progress = p
	var wg sync.WaitGroup
	var drawErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer errdef.Recover(&drawErr)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				p.draw(true)
				return
			case <-tick.C:
				p.draw(false)
			}
		}
	}()
	return func() error {
		close(p.done)
		wg.Wait()
		return drawErr
	}
}

// progressLine is a transfer.Progress that redraws one line.
type progressLine struct {
	w          io.Writer
	label      string
	start      time.Time
	bytes      atomic.Int64
	blobs      atomic.Int64
	inProgress atomic.Int64
	done       chan struct{}
	// plain draws without ANSI escapes, for TERM=dumb (Emacs' shell, a CI
	// console), which prints them as they are; width is the longest line
	// drawn, which spaces cover. Both are the drawing goroutine's alone.
	plain bool
	width int
}

func (p *progressLine) Start(ocispec.Descriptor) { p.inProgress.Add(1) }

func (p *progressLine) Add(_ ocispec.Descriptor, n int64) { p.bytes.Add(n) }

func (p *progressLine) Done(_ ocispec.Descriptor, err error) {
	p.inProgress.Add(-1)
	if err == nil {
		p.blobs.Add(1)
	}
}

func (p *progressLine) draw(final bool) {
	secs := time.Since(p.start).Seconds()
	rate := float64(p.bytes.Load()) / (1 << 20) / max(secs, 0.001)
	line := fmt.Sprintf("%s: %d blobs, %s, %.0f MiB/s", p.label, p.blobs.Load(), humanBytes(p.bytes.Load()), rate)
	if p.plain {
		fmt.Fprintf(p.w, "\r%-*s", p.width, line)
		p.width = max(p.width, len(line))
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	}
	if final {
		fmt.Fprintln(p.w)
	}
}
