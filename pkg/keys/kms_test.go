package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// hashivault:// goes through sigstore's own Vault client to an in-process
// stand-in for Vault's transit engine (testutil.StartVault): Vault itself
// cannot be installed here.
func TestHashiVault(t *testing.T) {
	ctx := context.Background()
	vault := testutil.StartVault(t, "mirror-signing")
	t.Setenv("VAULT_ADDR", vault.Addr)
	t.Setenv("VAULT_TOKEN", vault.Token)
	const ref = "hashivault://mirror-signing"
	s, err := keys.LoadSigner(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := keys.KeyID(&vault.Key.PublicKey)
	if s.KeyID() != want {
		t.Fatalf("key id %s, want %s", s.KeyID(), want)
	}
	sig, err := s.Sign(ctx, []byte("manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if vault.Signs.Load() != 1 {
		t.Fatalf("vault served %d signs, want 1: the key never left Vault", vault.Signs.Load())
	}
	vs, err := keys.LoadVerifiers(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := vs[0].Verify(ctx, []byte("manifest"), sig); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TOKEN", "wrong")
	if _, err := keys.LoadSigner(ctx, ref, nil); !errors.Is(err, errdef.ErrUsage) {
		t.Fatalf("wrong token: %v", err)
	}
	found := false
	for _, p := range keys.SupportedKMS() {
		found = found || p == "hashivault://"
	}
	if !found {
		t.Fatalf("hashivault:// not registered: %v", keys.SupportedKMS())
	}
}

// A Vault that refuses the token answered through sigstore's client with
// Vault's own error, several lines, the request's URL among them as
// VAULT_ADDR gave it: a password in it (https://USER:PASSWORD@vault…, a
// proxy's basic auth) was printed, and the message took five lines. It is
// one line now, the URL's credentials replaced by "***".
func TestHashiVaultErrorOneLineNoSecret(t *testing.T) {
	ctx := context.Background()
	vault := testutil.StartVault(t, "mirror-signing")
	t.Setenv("VAULT_ADDR", strings.Replace(vault.Addr, "://", "://admin:hunter2@", 1))
	t.Setenv("VAULT_TOKEN", "wrong")
	const ref = "hashivault://mirror-signing"
	_, err := keys.LoadSigner(ctx, ref, nil)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("wrong token: %v; want usage naming %s and Vault's refusal", err, ref)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("wrong token: %q; want one line, without VAULT_ADDR's password", err)
	}
	if _, err := keys.LoadVerifiers(ctx, ref); err == nil || strings.Contains(err.Error(), "hunter2") || strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("verify, wrong token: %q; want one line, without VAULT_ADDR's password", err)
	}
}

// A KMS reference with credentials before its key name
// (hashivault://USER:PASSWORD@KEY, written as VAULT_ADDR is) is no
// reference Vault's client takes, and its refusal named it whole: the
// password on stderr and in --format json, to sign and to verify. It is
// named with them blanked, as a reference of an unknown scheme is.
func TestKMSRefCredentialsNotPrinted(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	const ref = "hashivault://admin:hunter2@mirror-signing"
	_, err := keys.LoadSigner(context.Background(), ref, nil)
	if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "hashivault://***@mirror-signing") {
		t.Fatalf("sign: %v; want usage naming hashivault://***@mirror-signing, without the password", err)
	}
	_, err = keys.LoadVerifiers(context.Background(), ref)
	if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "hashivault://***@mirror-signing") {
		t.Fatalf("verify: %v; want usage naming hashivault://***@mirror-signing, without the password", err)
	}
}

// A KMS reference whose scheme is written in capitals
// (HASHIVAULT://USER:PASSWORD@KEY; URL schemes are case-insensitive) was
// taken for a file name and refused as "no such file", named whole: the
// password on stderr and in --format json. It is refused as a reference
// of an unknown scheme, its credentials blanked.
func TestKMSRefUpperCaseSchemeCredentialsNotPrinted(t *testing.T) {
	for _, ref := range []string{"HASHIVAULT://admin:hunter2@mirror-signing", "Env://admin:hunter2@VAR"} {
		_, err := keys.LoadSigner(context.Background(), ref, nil)
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "unknown scheme") {
			t.Fatalf("sign %s: %v; want usage, an unknown scheme, without the password", ref, err)
		}
		_, err = keys.LoadVerifiers(context.Background(), ref)
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "unknown scheme") {
			t.Fatalf("verify %s: %v; want usage, an unknown scheme, without the password", ref, err)
		}
	}
}

// TestHashiVaultAddrCredentialsNotPrinted: a VAULT_ADDR with credentials
// typed as is (not percent-encoded) fails to parse, and Go's error quotes
// the address, or the part of it before a "#" (url.Parse takes the rest
// for a fragment); a failing Vault's error names it too. The credentials
// were looked for up to the first "/" or blank only, or up to an "@" the
// quote did not hold, or after a scheme's "://" only, so the password or
// token was printed, whole or in part, on stderr and in --format json, to
// sign and to verify (found by review).
func TestHashiVaultAddrCredentialsNotPrinted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// addr makes VAULT_ADDR of the Vault's own address.
		addr func(vault string) string
		// secrets are the parts that must not be printed.
		secrets []string
	}{
		{"password holding a slash", withCredentials("admin:hun/ter2@"), []string{"hun", "ter2"}},
		{"password holding a blank", withCredentials("admin:hun ter2@"), []string{"hun", "ter2"}},
		{"password holding an @", withCredentials("admin:hun@ter2@"), []string{"hun", "ter2"}},
		{"password holding a quote", withCredentials(`admin:hun"x ter2@`), []string{"hun", "ter2"}},
		{"password holding a #", withCredentials("admin:hun#ter2@"), []string{"hun", "ter2"}},
		{"token without a scheme", func(vault string) string {
			_, hostPort, _ := strings.Cut(vault, "://")
			return "s3cr3tT0ken@" + hostPort
		}, []string{"T0ken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vault := testutil.StartVault(t, "mirror-signing")
			t.Setenv("VAULT_ADDR", tc.addr(vault.Addr))
			t.Setenv("VAULT_TOKEN", "wrong")
			for name, load := range map[string]func() error{
				"sign": func() error {
					_, err := keys.LoadSigner(context.Background(), "hashivault://mirror-signing", nil)
					return err
				},
				"verify": func() error {
					_, err := keys.LoadVerifiers(context.Background(), "hashivault://mirror-signing")
					return err
				},
			} {
				err := load()
				if err == nil {
					t.Fatalf("%s: no error", name)
				}
				for _, secret := range tc.secrets {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("%s: %v; want an error without %q", name, err, secret)
					}
				}
			}
		})
	}
}

// withCredentials puts creds (USER:PASSWORD@) after a Vault address's
// scheme.
func withCredentials(creds string) func(string) string {
	return func(vault string) string { return strings.Replace(vault, "://", "://"+creds, 1) }
}
