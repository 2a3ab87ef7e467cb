// Command stella is the StellaOps CLI; `stella mirror …` moves signed
// releases into disconnected networks. All logic lives in internal/cli and
// pkg/.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/stellaops/mirror/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// STELLA_CPUPROFILE=FILE writes a pprof CPU profile of the run, for
	// the performance work (`go tool pprof bin/stella FILE`).
	if path := os.Getenv("STELLA_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}
