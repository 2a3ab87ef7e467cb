package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// checkKeptSignatures verifies the signatures of other keys that signing
// keeps in the envelope at path (the signer's own is replaced, not kept),
// each with the key of its keyid that the files beside it carry (read:
// public-key.pem, and certificate.pem's keys). One damaged on the way or
// edited would otherwise be signed beside, packed and carried, and found
// out only by the far side's verify --threshold. sign writes every
// signer's key into a bundle's public-key.pem, a KMS key's too, so in a
// bundle (inBundle) a signature whose key is not there is refused as well:
// sign did not write it, or the file was edited. Outside a bundle sign
// writes no public-key.pem, so such a signature is kept as before, with a
// warning.
func checkKeptSignatures(ctx context.Context, env *dsse.Envelope, signerID, path string, read func(string) ([]byte, error), inBundle bool, log *slog.Logger) error {
	var kept []dsse.Signature
	for _, s := range env.Signatures {
		if s.KeyID != signerID {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	files, err := signingFiles(read)
	if err != nil {
		return err
	}
	byID := carriedKeys(files)
	pae := dsse.PAE(env.PayloadType, env.Payload)
	afresh := fmt.Sprintf("remove %s and have every signer sign again", filepath.Base(path))
	// A public-key.pem that does not parse may carry a signer's key in
	// the block damaged (carriedKeys passes over it): a signature is not
	// blamed, the file and its damaged block are named, a malformed
	// bundle as pack, push and verify say (checkSideFiles).
	var damaged string
	if data, ok := files[layout.PublicKeyFile]; ok {
		if _, err := keys.ParsePublicKeys(data); err != nil {
			damaged = "holds no public key that parses"
			if be := (*keys.BlockError)(nil); errors.As(err, &be) {
				damaged = be.Error()
			}
		}
	}
	for _, s := range kept {
		v, ok := byID[s.KeyID]
		switch {
		case damaged != "":
			// Even with the kept signatures' keys in blocks that decode,
			// sign writes the file again from its keys, and those of
			// the damaged block would be lost.
			return fmt.Errorf("%s: %s, so the keys of the signatures already in %s (key %s) cannot be checked and kept: restore it from a copy, or %s: %w",
				filepath.Join(filepath.Dir(path), layout.PublicKeyFile), damaged, filepath.Base(path), s.KeyID, afresh, errdef.ErrMalformed)
		case ok:
			if v.Verify(ctx, pae, s.Sig) != nil {
				return fmt.Errorf("%s: the signature of key %s already in it does not verify (damaged or edited): have its signer sign again, which replaces it, or %s: %w",
					path, s.KeyID, afresh, errdef.ErrSignature)
			}
		case inBundle:
			return fmt.Errorf("%s: the signature of key %s already in it cannot be checked: %s holds no key of that id, though sign writes every signer's there: %s: %w",
				path, s.KeyID, layout.PublicKeyFile, afresh, errdef.ErrSignature)
		default:
			log.Warn("keeping a signature of the envelope unchecked: no public-key.pem beside it holds its key", "path", path, "keyid", s.KeyID)
		}
	}
	return nil
}

// signingFiles reads the files beside an envelope that carry its signers'
// keys (public-key.pem, certificate.pem), as carriedKeys takes them; a
// file not there is left out.
func signingFiles(read func(string) ([]byte, error)) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, name := range []string{layout.PublicKeyFile, layout.CertificateFile} {
		data, err := read(name)
		if errors.Is(err, errdef.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files[name] = data
	}
	return files, nil
}
