package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
)

// refusePasswords refuses a command whose arguments, --registry or --base
// (create's, which may be a registry reference) hold a
// password in the form USER:PASSWORD@HOST (with or without a scheme), before
// anything is sent or printed: OCI references name no credentials, so such
// an argument would only fail, echoing the password in the error (or, in
// doctor's URL, send it as Basic auth). The refusal shows the argument with
// the password blanked.
func refusePasswords(cmd *cobra.Command, args []string) error {
	values := args[:len(args):len(args)]
	for _, name := range []string{"registry", "base"} {
		if f := cmd.Flags().Lookup(name); f != nil {
			values = append(values, f.Value.String())
		}
	}
	for _, v := range values {
		if holdsPassword(v) {
			return usageError("%s: a reference holds no password: save the credentials with `stella mirror login HOST -u USER --password-stdin` (a path so named: begin it with ./)", blankPassword(v))
		}
	}
	return nil
}

// holdsPassword reports whether arg reads as [scheme://]USER:PASSWORD@HOST[/…]
// and is not a path that exists, or one not made yet in a directory that
// exists (08:00/bundle@site-a, beside 08:00). A reference with a digest and
// no host (name:tag@sha256:…) has an @ too, after which comes the digest.
func holdsPassword(arg string) bool {
	at := userinfoEnd(arg)
	if at < 0 {
		return false
	}
	if _, err := os.Lstat(arg); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	if dir := filepath.Dir(arg); dir != "." {
		if _, err := os.Lstat(dir); err == nil {
			return false
		}
	}
	return true
}

// userinfoEnd returns the index in arg of the @ that ends a USER:PASSWORD
// part before the host, or -1. The password may hold a / (a token's
// base64): the @ is the last one not followed by a digest, not the last
// one before the first /.
func userinfoEnd(arg string) int {
	start := 0
	if i := strings.Index(arg, "://"); i >= 0 {
		start = i + 3
	}
	rest := arg[start:]
	for end := len(rest); ; {
		at := strings.LastIndex(rest[:end], "@")
		if at < 0 {
			return -1
		}
		if bundle.DigestShaped(rest[at+1:]) {
			end = at // name@sha256:…, well-formed or mistyped: not a password's end
			continue
		}
		// A user name holds no /: one before the : is a path's
		// (/backups/2025-12-03T08:00/bundle@site-a), not a USER.
		user, password, ok := strings.Cut(rest[:at], ":")
		if !ok || strings.Contains(user, "/") {
			return -1
		}
		// HOST:PORT/REPO@TAG (localhost:5000/x@latest): a tag where the
		// digest goes, after a host with a port and a path, no host and no
		// path after the @, is no USER:PASSWORD@HOST.
		port, _, path := strings.Cut(password, "/")
		if path && port != "" && strings.Trim(port, "0123456789") == "" && bundle.HostShaped(user) &&
			!strings.Contains(rest[at+1:], "/") && !bundle.HostShaped(rest[at+1:]) {
			return -1
		}
		return start + at
	}
}

// blankPassword is arg with the password of its USER:PASSWORD part blanked.
func blankPassword(arg string) string {
	at := userinfoEnd(arg)
	if at < 0 {
		return arg
	}
	start := 0
	if i := strings.Index(arg, "://"); i >= 0 {
		start = i + 3
	}
	user, _, _ := strings.Cut(arg[start:at], ":")
	return arg[:start] + user + ":***" + arg[at:]
}
