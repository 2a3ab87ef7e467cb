package cli

import (
	"io"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newSyncCmd(app *app) *cobra.Command {
	var (
		opts               mirror.SyncOptions
		trust              trustFlags
		fromPlain, toPlain bool
	)
	cmd := &cobra.Command{
		Use:   "sync SRC-REF DST-REF",
		Short: "Copy a bundle from one registry to another",
		Long: `Copy a bundle, with its referrers, from a registry to a registry with no local
staging: blobs stream from one to the other (or are mounted within one
registry), referrers are copied whichever way each side supports them.
--images also places every image under its mapped name at the destination, as
import does. With --key (or --trust-root) the signature must verify before
anything is written; without, it is not checked, and of several signatures
attached to the bundle's root one is copied only if it holds every signature
of the others (a bundle signed again and pushed again; else sync refuses,
exit 1: give --key). Re-running an interrupted
sync completes it. A bundle past its expiry, or older than the newest one the
destination repository holds, is refused as import refuses it
(--allow-expired, --allow-rollback). Side files its signing does not vouch
for are left behind, with a warning (filesNotCarried in --format json).
--ca-file, --cert-file and --key-file apply to both registries (a client
certificate is presented only to a registry that asks for one of its CA); where the two
need different CAs or client certificates, --certs-dir gives each its own
(DIR/HOST[:PORT]/ca.crt, client.cert, client.key, as docker's certs.d).
--plain-http applies to both registries too; from a registry with TLS to one
without (or back), --to-plain-http (or --from-plain-http) talks plain HTTP
to that side only, as --plain-http-host HOST[:PORT] does to the registry it
names.`,
		Example: `  stella mirror sync registry.example/stellaops/mirror-bundle:2025.10.0 mirror.site/stellaops/mirror-bundle --key cosign.pub
  stella mirror sync src:5000/stellaops/mirror-bundle:2025.10.0 dst:5000/stellaops/mirror-bundle --images --plain-http
  stella mirror sync src.example/stellaops/mirror-bundle:2025.10.0 mirror.site/stellaops/mirror-bundle --key cosign.pub --certs-dir /etc/docker/certs.d
  stella mirror sync registry.example/stellaops/mirror-bundle:2025.10.0 lab:5000/stellaops/mirror-bundle --key cosign.pub --to-plain-http`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Source, opts.Destination = args[0], args[1]
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(app.plainSides(cmd, args)...); err != nil {
				return err
			}
			opts.Transfer, opts.Logger = app.transferOptions(), app.logger()
			stop := app.progress(&opts.Transfer, "sync")
			res, err := mirror.Sync(cmd.Context(), opts)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printPlaced(w, "Synced", res) })
		},
	}
	app.setPlainSides(cmd, func(args []string) []string {
		if len(args) != 2 {
			return nil
		}
		var plain []string
		for _, side := range []struct {
			on  bool
			ref string
		}{{fromPlain, args[0]}, {toPlain, args[1]}} {
			if !side.on {
				continue
			}
			ref, err := registry.ParseReference(side.ref)
			if err != nil {
				// mirror.Sync refuses it, naming it without any
				// credentials written in it.
				continue
			}
			plain = append(plain, ref.Registry)
		}
		return plain
	})
	cmd.Flags().BoolVar(&fromPlain, "from-plain-http", false, "talk plain HTTP to the source registry only (--plain-http: to both)")
	cmd.Flags().BoolVar(&toPlain, "to-plain-http", false, "talk plain HTTP to the destination registry only (--plain-http: to both)")
	cmd.Flags().BoolVar(&opts.Images, "images", false, "also place every image under its mapped name at the destination")
	cmd.Flags().StringVar(&opts.RepoPrefix, "repo-prefix", "", "prefix for every image repository (with --images)")
	bindAgeFlags(cmd, &opts.AllowExpired, &opts.AllowRollback, "sync")
	trust.bind(cmd, true)
	return cmd
}
