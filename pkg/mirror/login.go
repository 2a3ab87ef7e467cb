package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/remote"
)

// LoginOptions are credentials to check and save.
type LoginOptions struct {
	Registry string
	Username string
	Password string
	// Client gives the credential store (docker's config.json, or the one
	// --registry-config names) and the TLS settings. Required.
	Client *remote.Client
}

// Login checks the credentials against the registry and saves them in the
// credential store, as `docker login` does (a credential helper when the
// config names one, else the config file).
func Login(ctx context.Context, opts LoginOptions) error {
	if opts.Username == "" || opts.Password == "" {
		return fmt.Errorf("login: user name and password are required: %w", errdef.ErrUsage)
	}
	if err := checkRegistryHost("registry", opts.Registry); err != nil {
		return err
	}
	reg, err := opts.Client.Registry(opts.Registry)
	if err != nil {
		return err
	}
	// The credentials are checked first (kept meanwhile in a store of
	// their own), then saved into the store read again: checking takes a
	// round trip or more, and saving rewrites the whole config.json, so a
	// store read before it would drop an entry another login saved
	// meanwhile (two logins to two registries at once).
	cred := auth.Credential{Username: opts.Username, Password: opts.Password}
	if err := credentials.Login(ctx, credentials.NewMemoryStore(), reg, cred); err != nil {
		return fmt.Errorf("login to %s: %w", opts.Registry, remote.Classify(err))
	}
	path := opts.Client.ConfigPath()
	unlock, err := lockConfigDir(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	owner := ownerOf(path)
	store, err := opts.Client.FreshStore()
	if err != nil {
		return err
	}
	if err := store.Put(ctx, credentials.ServerAddressFromRegistry(reg.Reference.Registry), cred); err != nil {
		return fmt.Errorf("login to %s: saving the credentials: %w", opts.Registry, err)
	}
	return savedConfig(path, owner)
}

// Logout removes the registry's credentials from the store. It reports
// whether there were any: with none stored, nothing is written, and the
// operator is told so rather than that credentials were removed.
func Logout(ctx context.Context, client *remote.Client, registry string) (removed bool, err error) {
	if err := checkRegistryHost("registry", registry); err != nil {
		return false, err
	}
	path := client.ConfigPath()
	unlock, err := lockConfigDir(ctx, path)
	if err != nil {
		return false, err
	}
	defer unlock()
	owner := ownerOf(path)
	store, err := client.FreshStore()
	if err != nil {
		return false, err
	}
	cred, err := store.Get(ctx, credentials.ServerAddressFromRegistry(registry))
	switch {
	case errors.As(err, new(*remote.CredentialsError)):
		// An entry that cannot be read (a broken auth field), which
		// every command fails on, is removed all the same; one of a
		// helper not installed fails on its removal too, saying so.
	case err != nil:
		return false, fmt.Errorf("logout from %s: %w", registry, err)
	case cred == auth.EmptyCredential:
		return false, nil
	}
	if err := credentials.Logout(ctx, store, registry); err != nil {
		return false, fmt.Errorf("logout from %s: %w", registry, err)
	}
	return true, savedConfig(path, owner)
}

// credTempPrefix begins the name of the temporary file the credential
// store writes config.json through (oras-go's ioutil.Ingest), beside it.
const credTempPrefix = "oras_credstore_temp_"

// credTempMinAge is how long ago a credential store's temporary file must
// have been written to be taken for a dead save's.
const credTempMinAge = time.Minute

// lockConfigDir takes the writers' lock of the directory of the config.json
// at path, as login and logout of other stella processes do, then removes
// what a save killed before its rename (SIGKILL, a power cut) left there:
// the store's temporary files, each a whole config.json, every saved
// password in it. The store removes one only when its own write fails, so
// one left stayed through every later login and logout, the passwords
// logout removed still on disk beside the config. Under the lock no other
// stella is saving: a temporary is a dead one's.
func lockConfigDir(ctx context.Context, path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil // the store makes it, holding nothing yet
	}
	unlock, err := writeLock(ctx, dir, logger(nil))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		unlock()
		return nil, err
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), credTempPrefix)
		if !ok || !e.Type().IsRegular() || rest == "" || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		// Another tool of oras-go (oras login) saves through the same
		// names without our lock: one written within the last minute may
		// be its save under way, left to it.
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < credTempMinAge {
			continue
		}
		// One that cannot be removed (another user's, in a sticky /tmp
		// that --registry-config names) is no reason to refuse the save.
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return unlock, nil
}

// savedConfig finishes a save of the config.json at path, which owner
// owned before: given back to that owner, then made durable.
func savedConfig(path string, owner fileOwner) error {
	if err := keepOwner(path, owner); err != nil {
		return err
	}
	return syncConfig(path)
}

// syncConfig makes the config.json the store just replaced durable, and
// its name: the store renames a temporary file into place without a sync,
// so a power cut after "Login Succeeded" could leave an empty config.json,
// every saved credential lost, or the old one. (A cut during the store's
// write can still: the write is the dependency's.) A config the store did
// not write (a credential helper's) is synced all the same, or missing.
func syncConfig(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return layout.SyncDir(filepath.Dir(path))
}
