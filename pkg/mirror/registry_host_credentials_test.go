package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestRegistryFlagCredentialsNotPrinted: a --registry (import, inventory,
// doctor; login's and logout's registry) or serve --addr holding
// credentials is refused as holding them, the password blanked (found by
// review):
//   - USER:PASSWORD@sha256:5000 (a host named sha256) was taken for
//     name@digest and printed whole: "repository
//     \"user:PASSWORD@sha256:5000/…\": invalid reference", and doctor sent
//     its probe to the host, printing "GET https://user:PASSWORD@sha256:5000/v2/".
//     A HOST[:PORT] holds no digest: every @ in it ends credentials.
//   - credentials holding a / (a token's base64: TOKEN/…@HOST,
//     USER:PA/SS@HOST:PORT) were not seen, only an @ before the first /
//     ending them: "--registry \"TOKEN/…@reg:5000\": want HOST[:PORT], no
//     path", serve's "--addr \"user:PA/SS@localhost:5000\": … too many
//     colons".
func TestRegistryFlagCredentialsNotPrinted(t *testing.T) {
	for _, tc := range []struct {
		name, secret, leak string
		hosts              []string
		// serveFirst: serve may refuse its want of a key first (no
		// password either way).
		serveFirst bool
	}{
		{"host named sha256", "hunter2-never-shown", "hunter2-never-shown", []string{"user:%s@sha256:5000", "%s@sha256:5000"}, false},
		{"credentials holding a slash", "hunt/er2+never/shown", "er2", []string{"user:%s@localhost:5000", "%s@registry.internal:5000", "%s@registry.internal"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := testutil.Client(t)
			for _, form := range tc.hosts {
				host := strings.ReplaceAll(form, "%s", tc.secret)
				check := func(what string, err error) {
					t.Helper()
					named := strings.Contains(fmt.Sprint(err), "credentials") || (tc.serveFirst && what == "serve --addr")
					if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), tc.leak) || !named {
						t.Errorf("%s %s: %v; want it refused as holding credentials, the password blanked", what, strings.ReplaceAll(form, "%s", "SECRET"), err)
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
		})
	}
}
