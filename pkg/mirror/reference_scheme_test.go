package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestReferenceWithSchemeRefused: a registry reference written as a URL
// (http://HOST:PORT/REPO:TAG, as a browser or a registry's web page has
// it) was refused by push, pull and sync as 'invalid reference: invalid
// repository "/HOST"', and by import and inspect as a file "not found".
// Each now says, on one line naming the reference, to drop the scheme, and
// that --plain-http is what reaches a registry without TLS.
func TestReferenceWithSchemeRefused(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	good := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	bad := "http://" + good
	for _, tt := range []struct {
		name, ref string
		run       func() error
	}{
		{"push", "http://" + host + "/stellaops/mirror-bundle", func() error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: "http://" + host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()})
			return err
		}},
		{"pull", bad, func() error {
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: bad, Output: filepath.Join(t.TempDir(), "out"), Client: client, Transfer: transferOpts()})
			return err
		}},
		{"sync source", bad, func() error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: bad, Destination: host + "/other/mirror-bundle", Client: client, Transfer: transferOpts()})
			return err
		}},
		{"sync destination", "https://" + host + "/other/mirror-bundle", func() error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: good, Destination: "https://" + host + "/other/mirror-bundle", Client: client, Transfer: transferOpts()})
			return err
		}},
		{"import", bad, func() error {
			_, err := mirror.Import(ctx, importOpts(t, bad, host, s.pub))
			return err
		}},
		{"inspect", bad, func() error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: bad, Now: testNow, Client: client})
			return err
		}},
		{"catalog", "http://" + host + "/stellaops/mirror-bundle", func() error {
			_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: "http://" + host + "/stellaops/mirror-bundle", Verify: true, Trust: trustKeys(s.pub), Client: client})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			want := "reference \"" + tt.ref + "\": no scheme: give HOST[:PORT]/REPOSITORY"
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--plain-http") {
				t.Errorf("err = %v, want ErrUsage and %q", err, want)
			}
		})
	}
}
