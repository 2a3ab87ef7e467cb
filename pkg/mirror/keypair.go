package mirror

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/stellaops/mirror/pkg/keys"
)

// maxPublicKeyFile bounds the .pub read beside a signing key: keygen's is
// under 200 bytes, and anything much larger is no key of its.
const maxPublicKeyFile = 64 << 10

// warnMismatchedPair warns when ref, a key file PREFIX.key, has beside it
// a PREFIX.pub holding another key's public key: what a keygen --force
// stopped between its two files leaves (its new public key beside the old
// private key). What ref signs then does not verify with that .pub, the
// file an operator hands to the far side. Only a .pub of one public key is
// judged: anything else beside the key is not keygen's pair.
func warnMismatchedPair(ref, keyID string, log *slog.Logger) {
	prefix, ok := strings.CutSuffix(ref, ".key")
	if !ok || strings.Contains(ref, "://") {
		return
	}
	pubPath := prefix + ".pub"
	// A regular file only: opening a FIFO or a device would block sign or
	// read from it, for a warning.
	if st, err := os.Stat(pubPath); err != nil || !st.Mode().IsRegular() {
		return
	}
	f, err := os.Open(pubPath)
	if err != nil {
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPublicKeyFile))
	if err != nil {
		return
	}
	pubs, err := keys.ParsePublicKeys(data)
	if err != nil || len(pubs) != 1 {
		return
	}
	if id, err := keys.KeyID(pubs[0]); err == nil && id != keyID {
		log.Warn("the public key beside the signing key is another key's, so what this key signs does not verify with it (a keygen --force stopped between its two files leaves this: run it again)",
			"key", ref, "publicKey", pubPath, "keyid", keyID, "publicKeyId", id)
	}
}
