package mirror

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// refuseCarried refuses trust that names a file the bundle directory dir
// carries itself: its public-key.pem given as --key, its certificate.pem
// or certificate-chain.pem as --trust-root. Whoever could alter the
// bundle could alter those files too, so the bundle would vouch for
// itself and any signer would pass (verify.sh and load.sh refuse the
// same). A dir that is no directory (an archive, a reference) carries no
// file a flag could name; references that are no files (env://, KMS) are
// not compared. Errors wrap errdef.ErrUsage.
func (t TrustOptions) refuseCarried(dir string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil
	}
	check := func(flag string, refs []string, carried ...string) error {
		for _, ref := range refs {
			given, err := os.Stat(ref)
			if err != nil {
				continue
			}
			for _, name := range carried {
				if own, err := os.Stat(filepath.Join(dir, name)); err == nil && os.SameFile(given, own) {
					return fmt.Errorf("--%s%s %s is the bundle's own %s, which whoever could alter the bundle could alter too: give the one received from the signer out of band: %w",
						t.FlagPrefix, flag, ref, name, errdef.ErrUsage)
				}
			}
		}
		return nil
	}
	if err := check("key", t.Keys, layout.PublicKeyFile); err != nil {
		return err
	}
	return check("trust-root", t.TrustRoots, layout.CertificateFile, layout.CertificateChainFile)
}
