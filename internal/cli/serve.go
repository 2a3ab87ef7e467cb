package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newServeCmd(app *app) *cobra.Command {
	var (
		opts  mirror.ServeOptions
		trust trustFlags
	)
	cmd := &cobra.Command{
		Use:         "serve DIR|FILE.tar|FILE.tar.volumes.json (--key PUB | --trust-root ROOT) [--addr HOST:PORT] [--tls-cert CERT --tls-key KEY]",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "Serve a verified bundle as a read-only OCI registry",
		Long: `Make a bundle pullable at once, straight from the media, with no extraction
and no copy: a read-only OCI registry (Distribution API: manifests and blobs by
tag and digest, Range, tag list, catalog, referrers) over a bundle directory, a
plain .tar, or an archive split onto several media (pack --split; give its
.volumes.json, every volume mounted). The bundle is verified first, as import
verifies it (signature, structure, expiry, every blob's digest); one that
fails is never served.

Images appear under the repositories import would give them (--repo-prefix
prepended), tagged as manifest.json says; the bundle itself, with its signature
as a referrer, under --bundle-repo, tagged with the release version. Writes get
the spec's UNSUPPORTED error. The .tar.zst and .tar.gz that pack writes, whole
or in volumes, are read at random too (they end with a seek table); another
tool's compressed tar cannot be: decompress it once, or pack it again with
stella. Ctrl-C stops serving cleanly.

The address is printed when the registry is ready; --addr 127.0.0.1:0 picks a
free port.`,
		Example: `  stella mirror serve bundle/ --key cosign.pub
  stella mirror serve /media/usb/stellaops-airgap-2025.10.0.tar --key /etc/stellaops/cosign.pub \
    --addr 0.0.0.0:5000 --tls-cert registry.crt --tls-key registry.key
  # then, on the cluster:  HOST:5000/stellaops/authority@sha256:…`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			opts.Path = args[0]
			if opts.Trust, err = trust.required(); err != nil {
				return err
			}
			opts.Concurrency = app.global.concurrency
			opts.Logger = app.logger()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			var emitErr error
			opts.Ready = func(info mirror.ServeInfo) {
				if emitErr = app.emit(info, func(w io.Writer) { printServe(w, info) }); emitErr != nil {
					cancel()
				}
			}
			if err := mirror.Serve(ctx, opts); err != nil {
				return err
			}
			return emitErr
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", mirror.DefaultServeAddr, "host:port to listen on (port 0 picks a free one)")
	fl.StringVar(&opts.TLSCertFile, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; needs --tls-key")
	fl.StringVar(&opts.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&opts.RepoPrefix, "repo-prefix", "", "prefix for every image's repository, as with import")
	fl.StringVar(&opts.BundleRepo, "bundle-repo", bundle.DefaultBundleRepository, "repository the bundle itself is served under")
	fl.BoolVar(&opts.AllowExpired, "allow-expired", false, "serve a bundle past its expiry")
	trust.bind(cmd, true)
	return cmd
}

func printServe(w io.Writer, info mirror.ServeInfo) {
	fmt.Fprintf(w, "Serving %s (release %s, %d blobs, %s) at %s\n", info.Path, info.Version, info.Blobs, humanBytes(info.Bytes), info.URL)
	fmt.Fprintf(w, "  bundle  %s/%s@%s\n", info.Address, info.BundleRepository, info.Root)
	if info.Signature != nil {
		for _, s := range info.Signature.Signers {
			fmt.Fprintf(w, "  signed  %s (%s)\n", s.KeyID, s.Source)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAGS")
	for _, r := range info.Repositories {
		fmt.Fprintf(tw, "%s/%s\t%s\n", info.Address, r.Name, strings.Join(r.Tags, ","))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}
