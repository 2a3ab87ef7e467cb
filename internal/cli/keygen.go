package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newKeygenCmd(app *app) *cobra.Command {
	var opts mirror.KeygenOptions
	cmd := &cobra.Command{
		Use:         "keygen [--output-key-prefix PATH]",
		Annotations: map[string]string{registryUse: noRegistry},
		Short:       "Generate a cosign-compatible ECDSA P-256 key pair",
		Long: `Generate an ECDSA P-256 key pair in cosign's own format: PREFIX.key
(ENCRYPTED SIGSTORE PRIVATE KEY, scrypt + secretbox, mode 0600) and PREFIX.pub.
The password comes from COSIGN_PASSWORD, else it is asked twice on the
terminal. cosign sign-blob reads the key; stella reads cosign's.`,
		Example: `  stella mirror keygen
  COSIGN_PASSWORD=stellaops-dev stella mirror keygen --output-key-prefix tools/cosign/cosign.dev`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Password = app.password(cmd.Context(), true)
			opts.Logger = app.logger()
			res, err := mirror.Keygen(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Private key written to %s (mode 0600)\nPublic key written to %s\nKey id %s\n", res.PrivateKey, res.PublicKey, res.KeyID)
			})
		},
	}
	cmd.Flags().StringVar(&opts.OutputPrefix, "output-key-prefix", "cosign", "path prefix of the key files: PREFIX.key and PREFIX.pub (keys/cosign, not keys/, for keys/cosign.key)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace existing key files")
	return cmd
}
