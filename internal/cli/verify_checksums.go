package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newVerifyChecksumsCmd(app *app) *cobra.Command {
	var trust trustFlags
	var opts mirror.ChecksumsOptions
	cmd := &cobra.Command{
		Use:         "verify-checksums DIR|FILE.volumes.json [--key PUB]",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "Check a bundle directory against SHA256SUMS, or a split archive's volumes",
		Long: `Check that every file SHA256SUMS lists is present and hashes right, and that no
file is unlisted; every bad file is named. With --key (or --trust-root), first
check SHA256SUMS.sig, the signature on the list; without, the signature is not
checked (say so in any record you keep).

Given the volume list of a split archive (pack --split), check each volume on
its own (present, its size, its SHA-256) and name every bad or missing one;
with --key, first the signature on the list (FILE.volumes.dsse).`,
		Example: `  stella mirror verify-checksums bundle/ --key tools/cosign/cosign.pub
  stella mirror verify-checksums bundle/
  stella mirror verify-checksums /media/usb/stellaops-airgap-2025.10.0.tar.zst.volumes.json --key cosign.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Trust, err = trust.options(); err != nil {
				return err
			}
			if layout.IsVolumeList(args[0]) {
				res, err := mirror.VerifyVolumes(cmd.Context(), args[0], opts.Trust, app.global.concurrency)
				if err != nil {
					return err
				}
				return app.emit(res, func(w io.Writer) {
					fmt.Fprintf(w, "Verified %s: %d volumes (%s) present and hashing right\n", res.List, len(res.Volumes), humanBytes(res.Size))
					if res.Signer != nil {
						fmt.Fprintf(w, "  signature  by %s (%s)\n", res.Signer.KeyID, res.Signer.Source)
					} else {
						fmt.Fprintln(w, "  signature  not checked (no --key)")
					}
				})
			}
			opts.Dir = args[0]
			opts.Concurrency = app.global.concurrency
			opts.Logger = app.logger()
			res, err := mirror.VerifyChecksums(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Verified %s: %d files (%s) match SHA256SUMS, no file unlisted\n", res.Dir, res.Files, humanBytes(res.Bytes))
				if res.Signer != nil {
					fmt.Fprintf(w, "  signature  SHA256SUMS.sig by %s (%s)\n", res.Signer.KeyID, res.Signer.Source)
				} else {
					fmt.Fprintln(w, "  signature  not checked (no --key)")
				}
			})
		},
	}
	trust.bind(cmd, false)
	return cmd
}
