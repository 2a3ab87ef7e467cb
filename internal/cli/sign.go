package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

func newSignCmd(app *app) *cobra.Command {
	var opts mirror.SignOptions
	cmd := &cobra.Command{
		Use:         "sign DIR/manifest.json --key REF --output DIR/manifest.dsse",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "DSSE-sign a bundle's manifest.json",
		Long: `Sign manifest.json into a DSSE envelope (plan §2.3): payloadType
application/vnd.stellaops.mirror-bundle+json, the exact bytes of manifest.json
as payload, keyid sha256:<hex of the public key's DER>, ECDSA P-256 over the
DSSE PAE. Signing an envelope that already signs the same bytes adds a
signature (two-person approval); verify --threshold counts them. In a bundle
directory each signature of another key already there must first verify
with the key public-key.pem carries for it: one that does not (damaged,
edited) or has no key there is refused (exit 5); its signer signing again
replaces it, or remove manifest.dsse and have every signer sign again.

In a bundle directory the bundle must verify first; then the envelope is
attached as a referrer of the bundle root, and public-key.pem, SHA256SUMS and
SHA256SUMS.sig (verifiable with cosign verify-blob) are rewritten.

--key takes a cosign key file (password from COSIGN_PASSWORD, else asked on
the terminal), env://VAR holding the key as PEM or base64 of PEM, or
hashivault://KEY (VAULT_ADDR, VAULT_TOKEN). --certificate and
--certificate-chain carry the signer's X.509 chain for verify --trust-root;
a certificate that verify would refuse (expired, not for codeSigning, not
linked to the chain's root) is refused here.`,
		Example: `  COSIGN_PASSWORD=stellaops-dev stella mirror sign bundle/manifest.json \
    --key tools/cosign/cosign.dev.key --output bundle/manifest.dsse
  stella mirror sign bundle/manifest.json --key env://COSIGN_PRIVATE_KEY_B64 --output bundle/manifest.dsse
  stella mirror sign bundle/manifest.json --key hashivault://mirror-signing \
    --certificate mirror-signing.pem --certificate-chain signing-ca.pem --output bundle/manifest.dsse`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Manifest = args[0]
			opts.Password = app.password(cmd.Context(), false)
			opts.Concurrency = app.global.concurrency
			opts.Logger = app.logger()
			res, err := mirror.Sign(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printSign(w, res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Key, "key", "", "private key: cosign key file, env://VAR, or hashivault://KEY (required)")
	fl.StringVarP(&opts.Output, "output", "o", "", "envelope to write (default: manifest.dsse beside manifest.json)")
	fl.StringVar(&opts.Certificate, "certificate", "", "PEM certificate of the signing key, carried for verify --trust-root")
	fl.StringVar(&opts.CertificateChain, "certificate-chain", "", "PEM intermediates (and root) of --certificate")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func printSign(w io.Writer, r *mirror.SignResult) {
	fmt.Fprintf(w, "Signed %s (key %s; %d signature(s) in the envelope)\n", r.Envelope, r.KeyID, r.Signatures)
	if b := r.Bundle; b != nil {
		fmt.Fprintf(w, "  verified   %d manifests, %d blobs (%s), %d files%s\n", b.Content.Manifests, b.Content.Blobs, humanBytes(b.Content.Bytes), b.Content.Files, omittedNote(b.Content))
		fmt.Fprintf(w, "  referrer   %s -> root %s\n", b.Referrer.Digest, b.Root.Digest)
		fmt.Fprintf(w, "  rewrote    %s, %s, %s\n", layout.PublicKeyFile, layout.ChecksumsFile, layout.ChecksumsSigFile)
	}
}
