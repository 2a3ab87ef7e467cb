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

// TestReferenceCredentialsNotEchoed: a reference or registry given to the
// package with credentials in it (https://admin:PASSWORD@HOST/REPO:TAG,
// https://TOKEN@HOST/…, as a script's URL has them) is refused, as any URL
// is, but the error, which the CLI prints and --format json keeps, must not
// hold the password or token: it names the value with its credentials
// replaced, and says to log in instead. The refusal of a scheme quoted it
// whole; without a scheme (admin:PASSWORD@HOST/REPO:TAG) the reference
// grammar failed, and its error quoted the password twice.
func TestReferenceCredentialsNotEchoed(t *testing.T) {
	ctx := context.Background()
	client := testutil.Client(t)
	const secret = "s3cr3t-Pa55"
	dir := t.TempDir()
	for _, ref := range []string{
		"https://admin:" + secret + "@registry.internal/stellaops/mirror-bundle:2025.10.0",
		"admin:" + secret + "@registry.internal/stellaops/mirror-bundle:2025.10.0",
		"https://" + secret + "@registry.internal/stellaops/mirror-bundle:2025.10.0",
	} {
		registryHost, _, _ := strings.Cut(strings.TrimPrefix(ref, "https://"), "/")
		if strings.HasPrefix(ref, "https://") {
			registryHost = "https://" + registryHost
		}
		repo, _, _ := strings.Cut(ref, ":2025")
		for _, tt := range []struct {
			name string
			run  func() error
		}{
			{"push", func() error {
				_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: dir, Reference: ref, Client: client, Transfer: transferOpts()})
				return err
			}},
			{"pull", func() error {
				_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(dir, "out"), Client: client, Transfer: transferOpts()})
				return err
			}},
			{"sync", func() error {
				_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: "registry.internal/other/mirror-bundle", Client: client, Transfer: transferOpts()})
				return err
			}},
			{"import source", func() error {
				_, err := mirror.Import(ctx, importOpts(t, ref, "registry.internal", ""))
				return err
			}},
			{"import --registry", func() error {
				_, err := mirror.Import(ctx, importOpts(t, dir, registryHost, ""))
				return err
			}},
			{"inspect", func() error {
				_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: ref, Now: testNow, Client: client})
				return err
			}},
			{"catalog", func() error {
				_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Client: client})
				return err
			}},
			{"login", func() error {
				return mirror.Login(ctx, mirror.LoginOptions{Registry: registryHost, Username: "admin", Password: "x", Client: client})
			}},
		} {
			t.Run(tt.name+" "+ref[:8], func(t *testing.T) {
				err := tt.run()
				if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") {
					t.Errorf("err = %v, want ErrUsage on one line without the password", err)
				}
			})
		}
	}
}
