package mirror

import (
	"context"
	"fmt"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/stellaops/mirror/pkg/errdef"
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
	store, err := opts.Client.FreshStore()
	if err != nil {
		return err
	}
	if err := store.Put(ctx, credentials.ServerAddressFromRegistry(reg.Reference.Registry), cred); err != nil {
		return fmt.Errorf("login to %s: saving the credentials: %w", opts.Registry, err)
	}
	return nil
}

// Logout removes the registry's credentials from the store.
func Logout(ctx context.Context, client *remote.Client, registry string) error {
	store, err := client.FreshStore()
	if err != nil {
		return err
	}
	if err := credentials.Logout(ctx, store, registry); err != nil {
		return fmt.Errorf("logout from %s: %w", registry, err)
	}
	return nil
}
