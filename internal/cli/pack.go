package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newPackCmd(app *app) *cobra.Command {
	var opts mirror.PackOptions
	cmd := &cobra.Command{
		Use:   "pack DIR --output FILE.tar[.gz|.zst]",
		Short: "Write a bundle directory as a deterministic tar",
		Long: `Write a bundle directory as a deterministic tar: sorted, fixed mtime, uid/gid 0,
no host paths; layout files, manifest.json, signature and sums first, then
every manifest, then configs and advisories, then layers. The suffix picks the
codec. Every file is checked against SHA256SUMS on the way.`,
		Example: `  stella mirror pack bundle/ --output stellaops-airgap-2025.10.0.tar.zst`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			res, err := mirror.Pack(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Packed %s into %s (%s, %d files, %s -> %s)\n",
					opts.Dir, res.Path, res.Compression, res.Files, humanBytes(res.Bytes), humanBytes(res.Size))
			})
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "archive to write: .tar, .tar.gz or .tar.zst (required)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing archive")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}
