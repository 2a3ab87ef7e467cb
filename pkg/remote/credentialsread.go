package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// fileStore is the credential store of a docker config.json whose errors
// of reading, saving or removing an entry name the file and the registry,
// and never the secret: oras-go names neither, and prints an auth field whose decoded
// text has no colon whole ("auth 'USERPASSWORD' does not conform …").
type fileStore struct {
	credentials.Store
	// path is the config.json.
	path string
}

// Get implements credentials.Store.
func (s fileStore) Get(ctx context.Context, server string) (auth.Credential, error) {
	cred, err := s.Store.Get(ctx, server)
	if err == nil && cred.RefreshToken == "" && cred.AccessToken == "" && (cred.Username == "") != (cred.Password == "") {
		// Half a Basic credential, which every request of the
		// registry would fail on (oras-go's "missing username or
		// password for basic auth"). An identity token (a refresh
		// token) is whole.
		return auth.EmptyCredential, &CredentialsError{Host: server, File: s.path, err: errHalfCredential}
	}
	if err == nil || ctx.Err() != nil {
		return cred, err
	}
	return cred, &CredentialsError{Host: server, File: s.path, err: err}
}

// errHalfCredential is an entry of a user name without a password, or a
// password without a user name.
var errHalfCredential = errors.New("the entry holds a user name or a password without the other")

// Put implements credentials.Store.
func (s fileStore) Put(ctx context.Context, server string, cred auth.Credential) error {
	err := s.Store.Put(ctx, server, cred)
	if err == nil || ctx.Err() != nil {
		return err
	}
	return &CredentialsError{Host: server, File: s.path, err: err}
}

// Delete implements credentials.Store.
func (s fileStore) Delete(ctx context.Context, server string) error {
	err := s.Store.Delete(ctx, server)
	if err == nil || ctx.Err() != nil {
		return err
	}
	return &CredentialsError{Host: server, File: s.path, err: err}
}

// CredentialsError is a config.json entry that could not be read, saved
// or removed: its auth field broken, or the credential helper its
// credsStore or credHelpers name missing or failing.
type CredentialsError struct {
	// Host is the registry; File the config.json.
	Host, File string
	err        error
}

// authFieldError is the start of oras-go's error of an auth field that is
// not the base64 of USER:PASSWORD, whose words may hold the secret
// decoded (TestCredentialsErrorNamesFileAndHost pins it).
const authFieldError = "failed to decode auth field: "

func (e *CredentialsError) Error() string {
	at := fmt.Sprintf("credentials for %s in %s", e.Host, e.File)
	var execErr *exec.Error
	var syntaxErr *json.SyntaxError
	switch {
	case strings.HasPrefix(e.err.Error(), authFieldError):
		return at + ": its auth field is not the base64 of USER:PASSWORD: log in again (stella mirror login, docker login) to write it anew"
	case errors.As(e.err, &execErr) && errors.Is(execErr.Err, exec.ErrNotFound):
		return fmt.Sprintf("%s: %v (the credential helper its credsStore or credHelpers names is not installed on this machine: install it, or take it out of %s and log in again)", at, execErr, e.File)
	case errors.Is(e.err, errHalfCredential):
		return fmt.Sprintf("%s: %v: log in again (stella mirror login, docker login) to write it anew", at, e.err)
	case errors.As(e.err, &syntaxErr):
		return fmt.Sprintf("%s: the credential helper its credsStore or credHelpers names answered what is not JSON (%v)", at, syntaxErr)
	}
	// A helper that failed says why on its output (its stderr is the
	// run's), the secret never; the file's own faults (an entry that is
	// not an object) are oras-go's words, no secret in them either.
	return fmt.Sprintf("%s: %s", at, strings.Join(strings.Fields(e.err.Error()), " "))
}

func (e *CredentialsError) Unwrap() error { return e.err }
