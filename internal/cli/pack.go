package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newPackCmd(app *app) *cobra.Command {
	var (
		opts  mirror.PackOptions
		split string
		key   string
	)
	cmd := &cobra.Command{
		Use:         "pack DIR --output FILE.tar[.gz|.zst]",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "Write a bundle directory as a deterministic tar",
		Long: `Write a bundle directory as a deterministic tar: sorted, fixed mtime, uid/gid 0,
no host paths; layout files, manifest.json, signature and sums first, then
every manifest, then configs and advisories, then layers. The suffix picks the
codec. A .tar.zst or .tar.gz starts a new zstd frame or gzip member at every
entry (and every 4 MiB) and ends with a seek table that other decoders read as
nothing, so import and serve read it at random, as a .tar, whole or split
into volumes (--split). Every file is checked against SHA256SUMS on the way.
A bundle not yet signed (no manifest.dsse) is packed with a warning: import,
serve and verify refuse it, and --key signs the volume list, not the bundle.`,
		Example: `  stella mirror pack bundle/ --output stellaops-airgap-2025.10.0.tar.zst`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			opts.Logger = app.logger()
			if split != "" {
				n, err := parseSize(split)
				if err != nil {
					return err
				}
				opts.Split = n
			}
			if key != "" {
				if opts.Split == 0 {
					return usageError("--key signs the volume list: it needs --split")
				}
				opts.Key, opts.Password = key, app.password(cmd.Context(), false)
			}
			res, err := mirror.Pack(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if !res.Signed {
				app.logger().Warn("bundle is not signed (no manifest.dsse): import, serve and verify will refuse this archive; sign it first (stella mirror sign DIR/manifest.json --key KEY --output DIR/manifest.dsse), then pack it again", "bundle", opts.Dir)
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Packed %s into %s (%s, %d files, %s -> %s)\n",
					opts.Dir, res.Path, res.Compression, res.Files, humanBytes(res.Bytes), humanBytes(res.Size))
				for _, v := range res.Volumes {
					fmt.Fprintf(w, "  volume  %s  %s  %s\n", v.Name, humanBytes(v.Size), v.Digest)
				}
				if res.VolumeList != "" {
					fmt.Fprintf(w, "  list    %s\n", res.VolumeList)
				}
				if res.Signature != "" {
					fmt.Fprintf(w, "  signed  %s\n", res.Signature)
				}
			})
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "archive to write: .tar, .tar.gz or .tar.zst (required)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing archive (with --split: its volumes and list, and any file a volume would take the name of)")
	cmd.Flags().StringVar(&split, "split", "", "write volumes of at most SIZE (bytes, or K, M, G, T as is or with B or iB, powers of 1024; e.g. 4G for FAT32 sticks: 4 GiB less one byte) plus their list FILE.volumes.json")
	cmd.Flags().StringVar(&key, "key", "", "with --split, sign the volume list (FILE.volumes.dsse)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// parseSize reads a volume size: bytes, or a number with K, M, G or T
// (powers of 1024), as is or followed by B or iB (4G, 4GB, 4GiB, in any
// case). Exactly 4G is read as 4 GiB less one byte, the largest file
// FAT32 holds, since that is what "4G" on a USB stick means.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.ToUpper(s)
	iec := strings.HasSuffix(num, "IB")
	if iec {
		num = num[:len(num)-2]
	} else {
		num = strings.TrimSuffix(num, "B")
	}
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult || (iec && mult == 1) {
		return 0, usageError("--split %q: want a size such as 4G, 700M, 700MiB or 1048576", s)
	}
	size := v * mult
	if size == 4<<30 {
		size--
	}
	if size < 1<<20 {
		return 0, usageError("--split %q: volumes must be at least 1 MiB", s)
	}
	return size, nil
}
