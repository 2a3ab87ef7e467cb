package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with
// -ldflags "-X github.com/stellaops/mirror/internal/cli.version=…".
var version = ""

// Version returns the build's version: the -ldflags value, else the module
// version Go recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type versionResult struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func newVersionCmd(app *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version of stella",
		Example: "  stella version\n  stella version --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			app.global.format = format
			res := versionResult{Version: Version(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "stella %s (%s, %s/%s)\n", res.Version, res.Go, res.OS, res.Arch)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	completeFormat(cmd)
	return cmd
}
