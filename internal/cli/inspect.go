package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newInspectCmd(app *app) *cobra.Command {
	var trust trustFlags
	cmd := &cobra.Command{
		Use:         "inspect DIR|FILE|REF [--key PUB]",
		Annotations: map[string]string{registryUse: pathOrRegistry},
		Short:       "Show what a bundle holds, and whether it verifies",
		Long: `Show a bundle's release, generation, images (reference, digest, platforms,
referrers and how many are cosign tags, named in --format json, size),
advisories and totals, after checking its structure. A directory, a tar
(plain, gzip or zstd, or the volume list of a split one) or a bundle in a
registry is read; a packed tar only up to its last manifest. With --key (or
--trust-root) the signature must verify too, and the signers are shown.`,
		Example: `  stella mirror inspect bundle/
  stella mirror inspect stellaops-airgap-2025.10.0.tar.zst --key cosign.pub --format json
  stella mirror inspect registry.internal:5000/stellaops/mirror-bundle:2025.10.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := mirror.InspectOptions{Source: args[0], Now: time.Now()}
			var err error
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			// A bundle on disk is read with no client, and so with no
			// credentials read (talksToRegistries), as verify reads it.
			if talksToRegistries(cmd, args) {
				if opts.Client, err = app.remoteClient(); err != nil {
					return err
				}
			}
			res, err := mirror.InspectWith(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printInspect(w, res) })
		},
	}
	trust.bind(cmd, true)
	return cmd
}

func printInspect(w io.Writer, r *mirror.InspectResult) {
	fmt.Fprintf(w, "Bundle     %s\n", r.Path)
	fmt.Fprintf(w, "Release    %s %s\n", r.Version, r.Channel)
	fmt.Fprintf(w, "Bundle id  %s\n", r.BundleID)
	fmt.Fprintf(w, "Root       %s\n", r.Root)
	fmt.Fprintf(w, "Generation %d\n", r.Generation)
	fmt.Fprintf(w, "Format     schemaVersion %d, made by %s %s\n", r.SchemaVersion, r.Producer.Name, r.Producer.Version)
	expiry := ""
	if r.Expired {
		expiry = " (EXPIRED)"
	}
	fmt.Fprintf(w, "Created    %s\nExpires    %s%s\n", r.CreatedAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339), expiry)
	if r.Base != nil {
		fmt.Fprintf(w, "Base       %s (generation %d, root %s)\n", r.Base.BundleID, r.Base.Generation, r.Base.Root)
	}
	unchecked := ""
	if r.Signed && len(r.Signers) == 0 {
		// Anyone can sign: without a trusted key nothing was checked.
		unchecked = " (not verified: give --key or --trust-root)"
	}
	fmt.Fprintf(w, "Signed     %v%s\n", r.Signed, unchecked)
	for _, s := range r.Signers {
		fmt.Fprintf(w, "Verified   signed by %s (%s)\n", s.KeyID, s.Source)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREPOSITORY\tTAGS\tDIGEST\tPLATFORMS\tREFERRERS\tSIZE")
	for _, img := range r.Images {
		refs := strconv.Itoa(img.Referrers)
		if n := len(img.CosignTags); n > 0 {
			refs += fmt.Sprintf(" (%d by cosign tag)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", img.Name, img.Repository, strings.Join(img.Tags, ","), img.Digest,
			strings.Join(img.Platforms, ","), refs, humanBytes(img.Size))
	}
	tw.Flush()
	if len(r.Advisories) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ADVISORY\tSOURCE\tDIGEST\tSIZE")
		for _, a := range r.Advisories {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Path, a.Source, a.Digest, humanBytes(a.Size))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nTotal: %d images, %d advisories, %d unique blobs, %s", r.Totals.Images, r.Totals.Advisories, r.Totals.Blobs, humanBytes(r.Totals.Bytes))
	if r.Totals.Omitted > 0 {
		fmt.Fprintf(w, "; %d blobs omitted, its base's", r.Totals.Omitted)
	}
	fmt.Fprintln(w)
}
