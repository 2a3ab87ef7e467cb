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

// TestRegistryFlagCredentialsBeforeHostNamedSha256: a --registry (import,
// inventory, doctor; login's and logout's registry) or serve --addr of
// USER:PASSWORD@sha256:5000 (a host named sha256) was taken for
// name@digest, not credentials, and printed whole: "repository
// \"user:PASSWORD@sha256:5000/…\": invalid reference", and doctor sent its
// probe to the host, printing "GET https://user:PASSWORD@sha256:5000/v2/".
// A HOST[:PORT] holds no digest: every @ in it ends credentials (found by
// review).
func TestRegistryFlagCredentialsBeforeHostNamedSha256(t *testing.T) {
	const secret = "hunter2-never-shown"
	ctx := context.Background()
	client := testutil.Client(t)
	for _, host := range []string{"user:" + secret + "@sha256:5000", secret + "@sha256:5000"} {
		shown := strings.ReplaceAll(host, secret, "SECRET")
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "credentials") {
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
