package cli

import (
	"io"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newImportCmd(app *app) *cobra.Command {
	var (
		opts       mirror.ImportOptions
		trust      trustFlags
		catalogKey string

		fromPlain, toPlain bool
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
(filesNotCarried in --format json).

--advisories-dir DIR receives the advisory files, each whole or not at all,
once the tags are written; a file already holding the same bytes is left
as it is. The import records what it wrote in DIR/.stella-advisories.json.
An advisory the previous import wrote that this bundle no longer lists
(withdrawn upstream, or a feed file renamed) is removed if its bytes are
still those stella wrote, with the directories it alone was in, and
reported (withdrawnAdvisories in --format json); one changed since, or
with a symlink on its path, and files of your own are never removed: a
withdrawn one is named instead. --keep-withdrawn removes none. A bundle
older than the one whose advisories DIR holds is refused (exit 8) unless
--allow-rollback, which gives DIR that bundle's set; a bundle that lists no
advisories leaves DIR as it was. A file where the bundle puts an
advisory that the record never named (one of your own) refuses the
import, before any tag or advisory is written, rather than be written over.

--plain-http talks plain HTTP to every registry of the run: for import REF,
the one it reads and the one it writes. Between a registry with TLS and
one without, --from-plain-http (the registry of REF) or --to-plain-http
(--registry) talks plain HTTP to that side only, as sync's do, and as
--plain-http-host HOST[:PORT] does to the registry it names.`,
		Example: `  stella mirror import stellaops-airgap-2025.10.0.tar.zst --registry registry.internal:5000 \
    --key /etc/stellaops/cosign.pub --advisories-dir /var/lib/stellaops/advisories
  stella mirror import bundle/ --registry localhost:5000 --plain-http --key cosign.pub --format json
  stella mirror import stellaops-airgap-2025.11.0.tar.zst --registry registry.internal:5000 \
    --key /etc/stellaops/cosign.pub --advisories-dir /var/lib/stellaops/advisories --keep-withdrawn
  stella mirror import bundle.tar.zst --registry registry.internal --key cosign.pub \
    --ca-file internal-ca.pem --cert-file client.pem --key-file client.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Source = args[0]
			if opts.Trust, err = trust.required(); err != nil {
				return err
			}
			opts.SourcePlainHTTP = fromPlain
			if opts.Client, err = app.remoteClient(app.plainSides(cmd, args)...); err != nil {
				return err
			}
			if catalogKey != "" {
				opts.CatalogKey, opts.CatalogPassword = catalogKey, app.password(cmd.Context(), false)
			}
			opts.Transfer = app.transferOptions()
			opts.Logger = app.logger()
			stop := app.progress(&opts.Transfer, "import")
			res, err := mirror.Import(cmd.Context(), opts)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printPlaced(w, "Imported", res) })
		},
	}
	app.setPlainSides(cmd, func(args []string) []string {
		var plain []string
		if toPlain && opts.Registry != "" {
			plain = append(plain, opts.Registry)
		}
		if len(args) == 1 && fromPlain {
			if ref, err := registry.ParseReference(args[0]); err == nil {
				// A FILE or DIR is read as it is: Import refuses the flag.
				plain = append(plain, ref.Registry)
			}
		}
		return plain
	})
	f := cmd.Flags()
	f.StringVar(&opts.Registry, "registry", "", "target registry, HOST[:PORT] (required)")
	f.StringVar(&opts.AdvisoriesDir, "advisories-dir", "", "directory to write the advisories into, removing those the previous import wrote that this bundle withdrew (without it they stay only in the bundle repository, with a warning)")
	f.BoolVar(&opts.KeepWithdrawn, "keep-withdrawn", false, "leave in --advisories-dir the advisories this bundle withdrew (still reported; a later import without it removes them)")
	f.StringVar(&opts.RepoPrefix, "repo-prefix", "", "prefix for every image repository on the target")
	f.StringVar(&opts.BundleRepo, "bundle-repo", bundle.DefaultBundleRepository, "repository for the bundle itself")
	f.BoolVar(&fromPlain, "from-plain-http", false, "talk plain HTTP to the registry of REF only (--plain-http: to both)")
	f.BoolVar(&toPlain, "to-plain-http", false, "talk plain HTTP to --registry only (--plain-http: to both)")
	bindAgeFlags(cmd, &opts.AllowExpired, &opts.AllowRollback, "import")
	cmd.Flags().StringVar(&catalogKey, "catalog-key", "", "private key to re-sign the bundle repository's catalog with afterwards (left as it is if it already lists exactly these bundles)")
	trust.bind(cmd, true)
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}
