package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newVerifyCmd(app *app) *cobra.Command {
	var trust trustFlags
	var opts mirror.VerifyOptions
	cmd := &cobra.Command{
		Use:         "verify DIR|DIR/manifest.dsse|FILE.tar[.gz|.zst] --key PUB",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "Verify a bundle's DSSE signature, then every digest it names",
		Long: `Verify the DSSE envelope's signatures against trusted keys (--key) or a trusted
root CA (--trust-root, for signers whose certificate the bundle carries), and
its payload type. Inside a bundle directory, the payload must be the bundle's
manifest.json byte for byte, the bundle must not have expired (--allow-expired),
and every manifest, blob and file manifest.json names must be present and hash
right (--signature-only skips that walk). A bundle archive (.tar, .tar.gz,
.tar.zst, or a split archive's .volumes.json) is verified the same way with no
extraction: a .tar, or a .tar.zst or .tar.gz that pack wrote, is read at random
and hashed in parallel; split volumes and another tool's compressed tar are read
once, front to back.

Exit codes: 5 signature, 2 digest mismatch, 3 expired, 11 malformed, 1 missing input.`,
		Example: `  stella mirror verify bundle/manifest.dsse --key tools/cosign/cosign.pub
  stella mirror verify bundle/ --key release-engineer.pub --key signing-authority.pub --threshold 2
  stella mirror verify bundle/manifest.dsse --trust-root stellaops-root-ca.pem --signature-only`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Trust, err = trust.required(); err != nil {
				return err
			}
			opts.Envelope = args[0]
			opts.Concurrency = app.global.concurrency
			opts.Logger = app.logger()
			res, err := mirror.Verify(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printVerify(w, res) })
		},
	}
	trust.bind(cmd, true)
	cmd.Flags().BoolVar(&opts.SignatureOnly, "signature-only", false, "check the signature only, not the bundle's content")
	cmd.Flags().BoolVar(&opts.AllowExpired, "allow-expired", false, "accept a bundle past its expiry")
	return cmd
}

func printVerify(w io.Writer, r *mirror.VerifyResult) {
	s := r.Signature
	fmt.Fprintf(w, "Verified %s: %d of %d required trusted signer(s)", r.Envelope, len(s.Signers), s.Threshold)
	if s.Untrusted > 0 {
		fmt.Fprintf(w, " (%d signature(s) by untrusted keys ignored)", s.Untrusted)
	}
	fmt.Fprintln(w)
	for _, sg := range s.Signers {
		fmt.Fprintf(w, "  signer     %s (%s)\n", sg.KeyID, sg.Source)
	}
	if r.Manifest != "" {
		fmt.Fprintf(w, "  payload    %s\n", r.Manifest)
	}
	if r.Root != "" {
		fmt.Fprintf(w, "  root       %s\n", r.Root)
	}
	if c := r.Content; c != nil {
		fmt.Fprintf(w, "  content    %d manifests, %d blobs (%s), %d files: all digests match%s\n", c.Manifests, c.Blobs, humanBytes(c.Bytes), c.Files, omittedNote(c))
	} else if r.Bundle != "" {
		fmt.Fprintln(w, "  content    not checked (--signature-only)")
	}
}

// omittedNote says how many blobs a delta bundle leaves to its base: not
// read, and so not among those counted as checked.
func omittedNote(c *mirror.ContentResult) string {
	if c.Omitted == 0 {
		return ""
	}
	return fmt.Sprintf("; %d blobs omitted, its base's (checked on import, against the registry)", c.Omitted)
}
