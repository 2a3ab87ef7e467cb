package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestRegistryFlagCredentialsHoldingSlash: a --registry (import, inventory,
// doctor; login's and logout's registry) or serve --addr whose credentials
// hold a / (a token's base64: TOKEN/…@HOST, USER:PA/SS@HOST:PORT) was not
// seen to hold any, only an @ before the first / ending them, and was
// printed whole: "--registry \"TOKEN/…@reg:5000\": want HOST[:PORT], no
// path", serve's "--addr \"user:PA/SS@localhost:5000\": … too many colons"
// (found by review).
func TestRegistryFlagCredentialsHoldingSlash(t *testing.T) {
	const secret = "hunt/er2+never/shown"
	ctx := context.Background()
	client := testutil.Client(t)
	for _, host := range []string{"user:" + secret + "@localhost:5000", secret + "@registry.internal:5000", secret + "@registry.internal"} {
		shown := strings.ReplaceAll(host, secret, "SECRET")
		check := func(what string, err error) {
			t.Helper()
			// serve may refuse its want of a key first: no password either way.
			if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "er2") || (!strings.Contains(err.Error(), "credentials") && what != "serve --addr") {
				t.Errorf("%s %s: %v; want it refused as holding credentials, the password blanked", what, shown, err)
			}
		}
		_, err := mirror.Doctor(ctx, mirror.DoctorOptions{Registry: host, Client: client})
		check("doctor --registry", err)
		_, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: client})
		check("inventory --registry", err)
		check("login", mirror.Login(ctx, mirror.LoginOptions{Registry: host, Username: "u", Password: "p", Client: client}))
		_, err = mirror.Logout(ctx, client, host)
		check("logout", err)
		check("serve --addr", mirror.Serve(ctx, mirror.ServeOptions{Path: t.TempDir(), Addr: host}))
	}
}
