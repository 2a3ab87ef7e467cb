package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
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
	// Logger is told when another stella process is writing key files in
	// the same directory and Keygen waits for it; nil discards it.
	Logger *slog.Logger
}

// KeygenResult is what Keygen wrote.
type KeygenResult struct {
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
	KeyID      string `json:"keyId"`
}

// Keygen writes an ECDSA P-256 key pair in cosign's format: PREFIX.key
// (ENCRYPTED SIGSTORE PRIVATE KEY, mode 0600) and PREFIX.pub (PUBLIC KEY).
// A prefix ending in a path separator is refused (errdef.ErrUsage).
// An existing file is never overwritten without Force (errdef.ErrExists).
// The two files are placed under the directory's writers' lock
// (layout.LockDir): of two runs at once, the later one's pair replaces the
// earlier one's whole (Force) or is refused, never a key beside the other
// run's public key. Waiting for that lock ends with ctx (Ctrl-C), writing
// nothing.
func Keygen(ctx context.Context, opts KeygenOptions) (*KeygenResult, error) {
	prefix := opts.OutputPrefix
	if prefix == "" {
		prefix = "cosign"
	}
	if base := filepath.Base(prefix); os.IsPathSeparator(prefix[len(prefix)-1]) || base == "." || base == ".." {
		// keys/ would write keys/.key and keys/.pub, keys/. keys/..key:
		// hidden files the operator looking for the pair does not see.
		return nil, fmt.Errorf("--output-key-prefix %s names a directory, not the key files' name (it would write the hidden files %s.key and %s.pub): give %s: %w",
			prefix, prefix, prefix, filepath.Join(prefix, "cosign"), errdef.ErrUsage)
	}
	res := &KeygenResult{PrivateKey: prefix + ".key", PublicKey: prefix + ".pub"}
	if !opts.Force {
		for _, p := range []string{res.PrivateKey, res.PublicKey} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("%s: %w (use --force to replace it)", p, errdef.ErrExists)
			}
		}
	}
	if opts.Password == nil {
		return nil, fmt.Errorf("keygen: no password: %w", errdef.ErrUsage)
	}
	// A keygen killed before its end left its temporary files: one holds
	// a private key (encrypted), hidden where a removed key pair seems gone.
	for _, p := range []string{res.PrivateKey, res.PublicKey} {
		if err := layout.RemoveStaleOutput(p); err != nil {
			return nil, err
		}
	}
	pw, err := opts.Password()
	if err != nil {
		return nil, err
	}
	emptyPassword := len(pw) == 0
	kp, err := keys.GenerateKeyPair(pw)
	clear(pw)
	if err != nil {
		return nil, err
	}
	res.KeyID = kp.KeyID
	pub, err := writeTemp(res.PublicKey, kp.PublicPEM, 0o644)
	if err != nil {
		return nil, err
	}
	defer os.Remove(pub.Name())
	defer pub.Close()
	key, err := writeTemp(res.PrivateKey, kp.PrivatePEM, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(key.Name())
	defer key.Close()
	pubTmp, keyTmp := pub.Name(), key.Name()
	dir := filepath.Dir(res.PrivateKey)
	unlock, err := writeLock(ctx, dir, logger(opts.Logger))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Interrupted (Ctrl-C) while the key was made: nothing is placed,
	// so a pair --force was to replace stays. Past here the pair is
	// placed whole.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The public key is placed first: if the private key then cannot be,
	// an old private key is still there (its public key can be derived
	// again), where the other order would lose it for good.
	// The public key it replaces is put back if the private key then
	// cannot be placed (EIO, a full disk): left, it was the public key of
	// no key anywhere, beside the old private key.
	oldPub, oldPubErr := fileReader(dir)(filepath.Base(res.PublicKey))
	putBackPub := func() {
		switch {
		case !opts.Force || errors.Is(oldPubErr, errdef.ErrNotFound):
			os.Remove(res.PublicKey) // placed by us where nothing was
		case oldPubErr == nil:
			layout.WriteFileAtomic(res.PublicKey, oldPub, 0o644)
		}
	}
	// A file may take its name before its directory's sync fails (EIO):
	// placed tells that from a file never placed.
	placed := func(tmp *os.File, path string) bool {
		ti, err := tmp.Stat()
		pi, lerr := os.Lstat(path)
		return err == nil && lerr == nil && os.SameFile(ti, pi)
	}
	if err := placeFile(pubTmp, res.PublicKey, opts.Force); err != nil {
		if placed(pub, res.PublicKey) {
			putBackPub()
		}
		return nil, err
	}
	if err := placeFile(keyTmp, res.PrivateKey, opts.Force); err != nil {
		// Placed all the same, the new pair is the one on disk, whole.
		if !placed(key, res.PrivateKey) {
			putBackPub()
		}
		return nil, err
	}
	// The names on disk too (both files share the prefix's directory):
	// after a power cut, the key pair just reported, not the old or none.
	if err := layout.SyncDir(filepath.Dir(res.PrivateKey)); err != nil {
		return nil, err
	}
	if emptyPassword {
		// Written all the same, as cosign does; but COSIGN_PASSWORD set
		// empty is also what a CI secret not defined leaves.
		logger(opts.Logger).Warn("the private key's password is empty: whoever reads the file can sign with it (COSIGN_PASSWORD set but empty?); keep it where only the signer may read it, or make the pair again with a password", "file", res.PrivateKey)
	}
	return res, nil
}

// writeTemp writes data into a new temporary file beside path, created
// with perm (so a private key is never readable by others, not even
// briefly) and synced, and returns it open: so locked (layout.CreateTemp)
// until it is placed, as another keygen's cleanup of stale temporaries
// would otherwise take it.
func writeTemp(path string, data []byte, perm os.FileMode) (*os.File, error) {
	tmp, err := layout.CreateTemp(path)
	if err != nil {
		return nil, err
	}
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return tmp, nil
}
