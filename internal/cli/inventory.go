package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newInventoryCmd(app *app) *cobra.Command {
	var (
		opts  mirror.InventoryOptions
		trust trustFlags
	)
	cmd := &cobra.Command{
		Use:   "inventory --registry HOST --output inventory.json [--key REF --bundle-key PUB]",
		Short: "List what the air-gap registry holds, for the next delta",
		Long: `List the bundles imported into a registry (version, generation, root) and the
blobs its bundle repository holds (each checked to be there), into a small
JSON file to carry back to the connected side; there, create --base
inventory.json makes a delta that carries exactly what is missing. With --key
the inventory is signed (inventory.dsse beside it; check it with create
--base-key).

Only bundles whose signature verifies with --bundle-key (the near side's
public key, the one import --key takes; or --bundle-trust-root, with
--bundle-threshold) are listed, with their blobs: anyone who may push to the
bundle repository could otherwise have a root of theirs listed. Each root
left out is named on stderr ("skipped bundle root ...: not verified", or
"newer format" for one a newer stella made) and counted; past 100 that do
not verify, the repository is taken as flooded: exit 5, naming it. --key needs
--bundle-key: a signed inventory speaks for what it lists. Without either,
every root is listed unverified, with a warning: such an inventory is for
reading; create --base takes only a signed one.`,
		Example: `  stella mirror inventory --registry registry.internal:5000 --output inventory.json --key env://COSIGN_PRIVATE_KEY --bundle-key near-side.pub`,
		// Checked with the arguments, once the flags are parsed, so that a
		// command line in the docs without --bundle-key fails as one that
		// does not parse (TestDocsCommandsParse), not only when run.
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return err
			}
			if opts.Key != "" && len(trust.keys) == 0 && len(trust.roots) == 0 {
				return usageError("inventory --key signs what it lists: give --bundle-key PUB (the key the bundles are signed with, as import --key) or --bundle-trust-root")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Logger, opts.Concurrency = app.logger(), app.global.concurrency
			if opts.Key != "" {
				opts.Password = app.password(cmd.Context(), false)
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
				printSkipped(w, res.RootsVerified, res.NotVerified, res.NewerFormat)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Registry, "registry", "", "the registry, HOST[:PORT] (required)")
	f.StringVar(&opts.BundleRepo, "bundle-repo", bundle.DefaultBundleRepository, "the bundle repository import wrote to")
	f.StringVarP(&opts.Output, "output", "o", "", "inventory file to write, *.json (required)")
	f.StringVar(&opts.Key, "key", "", "private key to sign the inventory with (file, env://VAR, hashivault://KEY); needs --bundle-key")
	trust.bindBundle(cmd)
	_ = cmd.MarkFlagRequired("registry")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}
