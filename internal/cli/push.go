package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newPushCmd(app *app) *cobra.Command {
	var (
		opts       mirror.PushOptions
		trust      trustFlags
		catalogKey string
	)
	cmd := &cobra.Command{
		Use:   "push DIR|FILE REF",
		Short: "Push a bundle to a registry",
		Long: `Push a whole bundle (root, metadata, images, image referrers) and its
referrers (the DSSE signature, the files referrer) into one repository of any
OCI registry, tagged with REF's tag or the release version. Blobs are sent once
and skipped where present; the tag is written last. With --key, the signature
must verify before anything is pushed. A bundle past its expiry, or older than
the newest one the repository holds (a lower mirrorGeneration, or the same
with other content), is refused as import refuses it (--allow-expired,
--allow-rollback). Side files its signing does not vouch for are left
behind, with a warning (filesNotCarried in --format json).`,
		Example: `  stella mirror push bundle/ registry.example/stellaops/mirror-bundle
  stella mirror push stellaops-airgap-2025.10.0.tar.zst localhost:5000/stellaops/mirror-bundle:2025.10.0 --plain-http`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Source, opts.Reference = args[0], args[1]
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			if catalogKey != "" {
				opts.CatalogKey, opts.CatalogPassword = catalogKey, app.password(cmd.Context(), false)
			}
			opts.Transfer, opts.Logger = app.transferOptions(), app.logger()
			stop := app.progress(&opts.Transfer, "push")
			res, err := mirror.Push(cmd.Context(), opts)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printPlaced(w, "Pushed", res) })
		},
	}
	cmd.Flags().StringVar(&catalogKey, "catalog-key", "", "private key to re-sign the bundle repository's catalog with afterwards (left as it is if it already lists exactly these bundles)")
	bindAgeFlags(cmd, &opts.AllowExpired, &opts.AllowRollback, "push")
	trust.bind(cmd, true)
	return cmd
}

// printPlaced prints what push, sync and import did.
func printPlaced(w io.Writer, verb string, r *mirror.PlaceResult) {
	fmt.Fprintf(w, "%s %s (generation %d) to %s/%s:%s\n", verb, r.Version, r.Generation, r.Registry, r.BundleRepository, r.BundleTag)
	fmt.Fprintf(w, "  root        %s\n", r.Root)
	for _, img := range r.Images {
		fmt.Fprintf(w, "  image       %s\n", img.Reference)
	}
	fmt.Fprintf(w, "  blobs       %d sent (%s), %d mounted, %d already present\n", r.Blobs.Sent, humanBytes(r.Blobs.BytesSent), r.Blobs.Mounted, r.Blobs.Skipped)
	fmt.Fprintf(w, "  manifests   %d pushed, %d already present; %d tags written, %d already in place\n", r.Manifests.Pushed, r.Manifests.Present, r.Tags, r.TagsInPlace)
	for _, ref := range r.KeptTags {
		fmt.Fprintf(w, "  kept tag    %s (names this registry's own manifest: see the warning above)\n", ref)
	}
	printNotCarried(w, r.FilesNotCarried)
	fmt.Fprintf(w, "  referrers   %s\n", r.ReferrersMode)
	if len(r.Advisories) > 0 {
		fmt.Fprintf(w, "  advisories  %d written, %d already in place\n", len(r.Advisories)-r.AdvisoriesInPlace, r.AdvisoriesInPlace)
	}
	printWithdrawn(w, r.WithdrawnAdvisories)
	fmt.Fprintf(w, "  took        %.2fs\n", r.Seconds)
}

// printWithdrawn prints how many advisories the bundle withdrew and what
// became of them, and names each left because it is not what stella wrote.
func printWithdrawn(w io.Writer, withdrawn []mirror.WithdrawnAdvisory) {
	if len(withdrawn) == 0 {
		return
	}
	count := map[string]int{}
	for _, a := range withdrawn {
		count[a.State]++
	}
	fmt.Fprintf(w, "  withdrawn   %d: %d removed, %d kept (--keep-withdrawn), %d left (changed since stella wrote them), %d already gone\n",
		len(withdrawn), count[mirror.WithdrawnRemoved], count[mirror.WithdrawnKept], count[mirror.WithdrawnChanged], count[mirror.WithdrawnGone])
	for _, a := range withdrawn {
		if a.State == mirror.WithdrawnChanged {
			fmt.Fprintf(w, "  left        %s (withdrawn, but changed since stella wrote it: remove it by hand if the scanner must not read it)\n", a.Path)
		}
	}
}

// printNotCarried prints, on one line, the side files a bundle's placement
// or pull left behind and why; nothing if none.
func printNotCarried(w io.Writer, left *mirror.FilesNotCarried) {
	if left != nil {
		fmt.Fprintf(w, "  not carried %s: %s\n", strings.Join(left.Files, ", "), oneLine(errors.New(left.Reason)))
	}
}
