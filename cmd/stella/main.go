// Command stella is the StellaOps CLI; `stella mirror …` moves signed
// releases into disconnected networks. All logic lives in internal/cli and
// pkg/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/stellaops/mirror/internal/cli"
)

// memoryLimit is the soft limit of the Go heap. The working set is bounded
// by design (streamed transfers, a 48 MiB pool of upload chunks); without a
// limit the collector lets garbage grow the heap to twice the working set
// before it runs. It is soft: a larger working set is slower, never refused.
const memoryLimit = 72 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// A hang-up (the SSH session or terminal of a long pack or import
	// closed) ends the run as Ctrl-C does, cleaning up what it was
	// writing, where it would otherwise kill it mid-write; unless it is
	// ignored (nohup), which catching it would undo.
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	// The first signal lets the run clean up (serve waits for pulls in
	// flight, an upload is cancelled); the second ends it at once, as the
	// signal's default does: a clean-up waiting on a client or a registry
	// is not ended only by SIGKILL. What that leaves the next run mends,
	// as after a kill. The signals are let go before the run is
	// cancelled, so that a second one is never caught. A hang-up after
	// the first signal is ignored: systemd (SendSIGHUP=yes) sends one
	// right after its SIGTERM, and a closed terminal may send one during
	// a clean-up a Ctrl-C began.
	ctx, cancel := context.WithCancel(context.Background())
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, sigs...)
	go func() {
		<-caught
		signal.Ignore(syscall.SIGHUP)
		signal.Stop(caught)
		cancel()
	}()
	// STELLA_CPUPROFILE=FILE writes a pprof CPU profile of the run into a new
	// FILE (an existing one is refused, never truncated), for
	// the performance work (`go tool pprof bin/stella FILE`).
	if path := os.Getenv("STELLA_CPUPROFILE"); path != "" {
		if f, err := createProfile(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(caught)
	cancel()
	pprof.StopCPUProfile()
	// STELLA_MEMPROFILE=FILE writes the run's allocations (`go tool pprof
	// -sample_index=alloc_space bin/stella FILE`).
	if path := os.Getenv("STELLA_MEMPROFILE"); path != "" {
		if f, err := createProfile(path); err == nil {
			runtime.GC() // the profile is as of the last collection
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}

// createProfile makes a profile's file, refusing one that exists: the
// variables name a path, and a bundle archive named by mistake was
// truncated. A profile is not written, with a warning, rather than
// overwrite anything.
func createProfile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stella: no profile written: %v (give a file that does not exist)\n", err)
	}
	return f, err
}
