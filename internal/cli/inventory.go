package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newInventoryCmd(app *app) *cobra.Command {
	var opts mirror.InventoryOptions
	cmd := &cobra.Command{
		Use:   "inventory --registry HOST --output inventory.json [--key REF]",
		Short: "List what the air-gap registry holds, for the next delta",
		Long: `List the bundles imported into a registry (version, generation, root) and the
blobs its bundle repository holds (each checked to be there), into a small
JSON file to carry back to the connected side; there, create --base
inventory.json makes a delta that carries exactly what is missing. With --key
the inventory is signed (inventory.dsse beside it; check it with create
--base-key).`,
		Example: `  stella mirror inventory --registry registry.internal:5000 --output inventory.json --key env://COSIGN_PRIVATE_KEY`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Logger, opts.Concurrency = app.logger(), app.global.concurrency
			if opts.Key != "" {
				opts.Password = app.password(false)
			}
			res, err := mirror.Inventory(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Wrote %s: %s, %s held", res.Path, counted(res.Bundles, "bundle"), counted(res.Blobs, "blob"))
				if res.Signature != "" {
					fmt.Fprintf(w, ", signed (%s)", res.Signature)
				}
				fmt.Fprintln(w)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Registry, "registry", "", "the registry, HOST[:PORT] (required)")
	f.StringVar(&opts.BundleRepo, "bundle-repo", bundle.DefaultBundleRepository, "the bundle repository import wrote to")
	f.StringVarP(&opts.Output, "output", "o", "", "inventory file to write, *.json (required)")
	f.StringVar(&opts.Key, "key", "", "private key to sign the inventory with (file, env://VAR, hashivault://KEY)")
	_ = cmd.MarkFlagRequired("registry")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}
