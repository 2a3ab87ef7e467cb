package cli

import (
	"bytes"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// passwordEnv holds the password of an encrypted key, as for cosign.
const passwordEnv = "COSIGN_PASSWORD"

// password returns where a key password comes from: COSIGN_PASSWORD when it
// is set (even empty, as cosign reads it), else a prompt on the terminal
// when stdin is one (twice with confirm), else an error. The password is
// never echoed, logged or put in an error.
func (a *app) password(confirm bool) keys.PassFunc {
	return func() ([]byte, error) {
		if pw, ok := os.LookupEnv(passwordEnv); ok {
			return []byte(pw), nil
		}
		f, ok := a.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, fmt.Errorf("the key needs a password: set %s (stdin is not a terminal to ask on): %w", passwordEnv, errdef.ErrUsage)
		}
		fmt.Fprint(a.stderr, "Enter password for private key: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the password: %v: %w", err, errdef.ErrUsage)
		}
		if !confirm {
			return pw, nil
		}
		fmt.Fprint(a.stderr, "Enter password for private key again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		defer clear(again)
		if err != nil {
			clear(pw)
			return nil, fmt.Errorf("reading the password: %v: %w", err, errdef.ErrUsage)
		}
		if !bytes.Equal(pw, again) {
			clear(pw)
			return nil, fmt.Errorf("the passwords do not match: %w", errdef.ErrUsage)
		}
		return pw, nil
	}
}
