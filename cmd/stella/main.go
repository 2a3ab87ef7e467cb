// Command stella is the StellaOps CLI; `stella mirror …` moves signed
// releases into disconnected networks. All logic lives in internal/cli and
// pkg/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/mirror/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
