package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
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
	// Formats are the format versions this stella writes; it reads them
	// and every older one.
	Formats mirror.Formats `json:"formats"`
}

func newVersionCmd(app *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of stella",
		Long: "Print the version of stella, and the versions of the formats it writes (bundle manifest.json, " +
			"artifact types, volume list, inventory, catalog). It reads those and every older one; a bundle " +
			"or document of a newer format is refused (exit 11) with the advice to upgrade stella on that side.",
		Example: "  stella version\n  stella version --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			app.global.format = format
			res := versionResult{Version: Version(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Formats: mirror.CurrentFormats()}
			return app.emit(res, func(w io.Writer) {
				f := res.Formats
				fmt.Fprintf(w, "stella %s (%s, %s/%s)\n", res.Version, res.Go, res.OS, res.Arch)
				fmt.Fprintf(w, "formats: bundle schemaVersion %d (artifactType v%d), volume list %d, inventory %d, catalog %d; reads these and older\n",
					f.Manifest, f.ArtifactType, f.VolumeList, f.Inventory, f.Catalog)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	completeFormat(cmd)
	return cmd
}
