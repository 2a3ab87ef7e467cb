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
	store := opts.Client.Store()
	if err := credentials.Login(ctx, store, reg, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
		return fmt.Errorf("login to %s: %w", opts.Registry, remote.Classify(err))
	}
	return nil
}

// Logout removes the registry's credentials from the store.
func Logout(ctx context.Context, client *remote.Client, registry string) error {
	if err := credentials.Logout(ctx, client.Store(), registry); err != nil {
		return fmt.Errorf("logout from %s: %w", registry, err)
	}
	return nil
}
