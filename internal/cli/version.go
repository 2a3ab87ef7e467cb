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
// version Go recorded, else "dev" with the commit Go stamped when it built
// from a git checkout (dev-0123456789ab, +dirty for uncommitted changes).
// create records it in manifest.json's producer, which inspect shows: a
// source build says which commit made a bundle, for version skew between
// the two sides.
func Version() string {
	if version != "" {
		return version
	}
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

// versionFrom is Version from build information (nil: none).
func versionFrom(bi *debug.BuildInfo) string {
	if bi == nil {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) < 12 {
		return "dev"
	}
	v := "dev-" + rev[:12]
	if modified == "true" {
		v += "+dirty"
	}
	return v
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
