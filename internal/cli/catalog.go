package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newCatalogCmd(app *app) *cobra.Command {
	var (
		opts        mirror.CatalogOptions
		trust       trustFlags
		bundleTrust trustFlags
	)
	cmd := &cobra.Command{
		Use:   "catalog REGISTRY/REPO (--key KEY | --verify --key PUB) [--bundle-key PUB]",
		Short: "Write or check the signed catalog of a bundle repository",
		Long: `Write the signed catalog of the bundles published in a bundle repository (the
plan's catalog.dsse): for each its version, channel, generation, root digest,
base, createdAt and expiresAt. It is stored as an OCI artifact tagged
"catalog" with its DSSE envelope as a referrer, and with --output as
catalog.json + catalog.dsse for media. push and import refresh it when given
--catalog-key. With --verify, check the stored catalog's signature (--key is
then a public key), that it was signed for this repository (exit 5 if for
another; the host may differ, with a warning, as one registry has several
names), that every root it lists exists, and that it is current: a bundle
the repository holds that it does not list, of a generation no older than
the newest it lists, makes it out of date (exit 3: write it again); an older
one is a warning.

Only bundles whose signature verifies count: the catalog lists only those,
and --verify weighs only those among the bundles it does not list. They are
the bundles signed with --bundle-key (repeatable; or --bundle-trust-root,
with --bundle-threshold); without it, with the catalog's own key (its public
half when writing, --key with --verify). Each root left out is named on
stderr ("skipped bundle root ...: not verified", or "newer format") and
counted; past 100 that do not verify, the repository is taken as flooded:
exit 5, naming it. --verify without --bundle-key, of a catalog whose key signs none
of the bundles it lists (a catalog key of its own), cannot tell a bundle
published since from one anyone pushed: an unlisted root that does not
verify then fails it (exit 1), asking for --bundle-key.`,
		Example: `  stella mirror catalog registry.example/stellaops/mirror-bundle --key env://COSIGN_PRIVATE_KEY --output media/
  stella mirror catalog registry.example/stellaops/mirror-bundle --key catalog.key --bundle-key release.pub
  stella mirror catalog registry.internal:5000/stellaops/mirror-bundle --verify --key cosign.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Repository = args[0]
			if opts.BundleTrust, err = bundleTrust.options(); err != nil {
				return err
			}
			if opts.Verify {
				if opts.Trust, err = trust.required(); err != nil {
					return err
				}
			} else {
				if len(trust.roots) > 0 {
					return usageError("catalog: --trust-root is for --verify; sign with one --key")
				}
				if len(trust.keys) != 1 {
					return usageError("catalog: give one --key to sign with")
				}
				opts.Key, opts.Password = trust.keys[0], app.password(cmd.Context(), false)
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Logger = app.logger()
			res, err := mirror.Catalog(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				printCatalog(w, res)
				printSkipped(w, true, res.NotVerified, res.NewerFormat)
			})
		},
	}
	cmd.Flags().BoolVar(&opts.Verify, "verify", false, "check the stored catalog instead of writing it")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "directory to write catalog.json and catalog.dsse into")
	trust.bind(cmd, false)
	bundleTrust.bindBundle(cmd)
	// One --key, two meanings: the shared wording ("trusted public key")
	// told the writer to pass a public key.
	cmd.Flags().Lookup("key").Usage = "private key to sign the catalog with (file, env://VAR, hashivault://KEY); with --verify, a trusted public key (repeatable)"
	// --verify writes nothing: refused, not silently ignored.
	cmd.MarkFlagsMutuallyExclusive("verify", "output")
	return cmd
}

func printCatalog(w io.Writer, r *mirror.CatalogResult) {
	state := "written"
	if r.Verified {
		state = "verified"
	}
	fmt.Fprintf(w, "Catalog of %s %s (%s)\n", r.Repository, state, r.Catalog.Digest)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCHANNEL\tGENERATION\tBASE\tCREATED\tEXPIRES\tROOT")
	for _, b := range r.Bundles {
		base := "-"
		if b.Base != nil {
			base = fmt.Sprint(b.Base.Generation)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", b.Version, b.Channel, b.Generation, base, b.CreatedAt.Format(time.RFC3339), b.ExpiresAt.Format(time.RFC3339), b.Root)
	}
	tw.Flush()
	for _, f := range r.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
}
