package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newImportCmd(app *app) *cobra.Command {
	var (
		opts       mirror.ImportOptions
		trust      trustFlags
		catalogKey string
	)
	cmd := &cobra.Command{
		Use:   "import FILE|DIR|REF --registry HOST[:PORT] (--key PUB | --trust-root ROOT)",
		Short: "Verify a bundle and load it into the air-gap registry",
		Long: `Verify a bundle and load it into a registry, reading each blob once: the signature
first (nothing is written unless it verifies), then expiry and generation,
then every blob sent once and hashed on the way (shared blobs are mounted, blobs
the registry has are skipped), then manifests, and tags last. A failed import
leaves no tag pointing at partial content; re-running it sends only what is
missing, and re-running one that completed writes nothing (tags already
naming their manifests are left, "already in place"), so it passes on a
registry in read-only mode too.

Images land at HOST/[PREFIX/]<path> (registry.example/stellaops/authority →
HOST/stellaops/authority), tagged with the release version and their source tag,
digests unchanged, with their referrers and the tags cosign keeps signatures,
attestations and SBOMs under (sha256-<hex>.sig, .att, .sbom), so cosign verify
works there. A cosign tag that already names another manifest (this
registry's own signatures) is left as it was, with a warning (keptTags in
--format json); one an earlier import wrote moves to this bundle's. The
bundle itself (root, metadata, signature) goes to --bundle-repo, tagged with
the release version. Side files its signing does not vouch for (a
public-key.pem replaced on the medium) are left behind, with a warning
(filesNotCarried in --format json).`,
		Example: `  stella mirror import stellaops-airgap-2025.10.0.tar.zst --registry registry.internal:5000 \
    --key /etc/stellaops/cosign.pub --advisories-dir /var/lib/stellaops/advisories
  stella mirror import bundle/ --registry localhost:5000 --plain-http --key cosign.pub --format json
  stella mirror import bundle.tar.zst --registry registry.internal --key cosign.pub \
    --ca-file internal-ca.pem --cert-file client.pem --key-file client.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Source = args[0]
			if opts.Trust, err = trust.required(); err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			if catalogKey != "" {
				opts.CatalogKey, opts.CatalogPassword = catalogKey, app.password(false)
			}
			opts.Transfer = app.transferOptions()
			opts.Logger = app.logger()
			stop := app.progress(&opts.Transfer, "import")
			res, err := mirror.Import(cmd.Context(), opts)
			stop()
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printPlaced(w, "Imported", res) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Registry, "registry", "", "target registry, HOST[:PORT] (required)")
	f.StringVar(&opts.AdvisoriesDir, "advisories-dir", "", "directory to write the advisories into (without it they stay only in the bundle repository, with a warning)")
	f.StringVar(&opts.RepoPrefix, "repo-prefix", "", "prefix for every image repository on the target")
	f.StringVar(&opts.BundleRepo, "bundle-repo", bundle.DefaultBundleRepository, "repository for the bundle itself")
	bindAgeFlags(cmd, &opts.AllowExpired, &opts.AllowRollback, "import")
	cmd.Flags().StringVar(&catalogKey, "catalog-key", "", "private key to re-sign the bundle repository's catalog with afterwards")
	trust.bind(cmd, true)
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}
