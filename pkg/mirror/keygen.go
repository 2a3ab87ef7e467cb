package mirror

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// KeygenOptions say where to write a new key pair.
type KeygenOptions struct {
	// OutputPrefix is the path prefix of the two files: PREFIX.key and
	// PREFIX.pub. Empty means "cosign" (cosign.key, cosign.pub), as cosign
	// generate-key-pair writes.
	OutputPrefix string
	// Password returns the password that encrypts the private key.
	// Required; it may return an empty password, as cosign allows.
	Password keys.PassFunc
	// Force replaces existing files; otherwise neither file is written if
	// either exists.
	Force bool
}

// KeygenResult is what Keygen wrote.
type KeygenResult struct {
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
	KeyID      string `json:"keyId"`
}

// Keygen writes an ECDSA P-256 key pair in cosign's format: PREFIX.key
// (ENCRYPTED SIGSTORE PRIVATE KEY, mode 0600) and PREFIX.pub (PUBLIC KEY).
// An existing file is never overwritten without Force (errdef.ErrExists).
func Keygen(opts KeygenOptions) (*KeygenResult, error) {
	prefix := opts.OutputPrefix
	if prefix == "" {
		prefix = "cosign"
	}
	res := &KeygenResult{PrivateKey: prefix + ".key", PublicKey: prefix + ".pub"}
	if !opts.Force {
		for _, p := range []string{res.PrivateKey, res.PublicKey} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("%s: exists (use --force to replace it): %w", p, errdef.ErrExists)
			}
		}
	}
	if opts.Password == nil {
		return nil, fmt.Errorf("keygen: no password: %w", errdef.ErrUsage)
	}
	pw, err := opts.Password()
	if err != nil {
		return nil, err
	}
	kp, err := keys.GenerateKeyPair(pw)
	clear(pw)
	if err != nil {
		return nil, err
	}
	res.KeyID = kp.KeyID
	if err := writeNew(res.PrivateKey, kp.PrivatePEM, 0o600, opts.Force); err != nil {
		return nil, err
	}
	if err := writeNew(res.PublicKey, kp.PublicPEM, 0o644, opts.Force); err != nil {
		return nil, err
	}
	return res, nil
}

// writeNew writes path through a temporary file created with perm (so a
// private key is never readable by others, not even briefly) and links it
// into place, which fails if path exists; with force it renames over it.
func writeNew(path string, data []byte, perm os.FileMode, force bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if force {
		return os.Rename(tmp.Name(), path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: exists (use --force to replace it): %w", path, errdef.ErrExists)
		}
		return err
	}
	return nil
}
