package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newPullCmd(app *app) *cobra.Command {
	var (
		opts  mirror.PullOptions
		trust trustFlags
	)
	cmd := &cobra.Command{
		Use:   "pull REF DIR",
		Short: "Pull a bundle from a registry into a bundle directory",
		Long: `Pull a bundle from a registry back into a bundle directory identical to one
made by create and sign (OCI layout, manifest.json, human view, manifest.dsse,
public-key.pem, SHA256SUMS), so that pack, verify and verify-checksums work on
it. With --key the signature must verify before anything is written; the
directory appears whole or not at all. Without --key, of several signatures
attached to the bundle's root, one is written only if it holds every
signature of the others (a bundle signed again and pushed again); else pull
refuses (exit 1): give --key. Side files its signing does not vouch for are
left behind, with a warning (filesNotCarried in --format json). A delta
bundle is pulled as create --base wrote it: without the blobs and files its
base holds (the registry holds them under its root too), which its
SHA256SUMS does not list.`,
		Example: `  stella mirror pull registry.example/stellaops/mirror-bundle:2025.10.0 bundle/ --key cosign.pub`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Reference, opts.Output = args[0], args[1]
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Transfer, opts.Logger = app.transferOptions(), app.logger()
			stop := app.progress(&opts.Transfer, "pull")
			res, err := mirror.Pull(cmd.Context(), opts)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Pulled %s (generation %d, root %s) into %s: %d blobs, %s (signature verified: %v)\n",
					res.Version, res.Generation, res.Root, res.Path, res.Blobs, humanBytes(res.Bytes), res.Verified)
				printNotCarried(w, res.FilesNotCarried)
			})
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing bundle directory (oci-layout and manifest.json, nothing a bundle does not hold; any other non-empty directory is refused)")
	trust.bind(cmd, true)
	return cmd
}
