package mirror_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestSyncWithinOneAuthRegistry: a host's first request goes alone
// (challengeGate) and its uploads read the blob while the session opens;
// within ONE registry, htpasswd or token auth, a sync whose source and
// destination repositories are on the same host (each blob read from one
// and sent to the other through the same client), a push and a pull all
// finish: no request waits on another that waits on it.
func TestSyncWithinOneAuthRegistry(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 9 << 20, LayerSize: 1 << 20}, 0)
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	hosts := map[string]string{
		"htpasswd": testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")}),
		"token":    testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens}),
	}
	for name, host := range hosts {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			auth := base64.StdEncoding.EncodeToString([]byte("mirror:s3cret"))
			config := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(config, fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth), 0o600); err != nil {
				t.Fatal(err)
			}
			newClient := func() *remote.Client {
				c, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: config, Retries: 1})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			opts := importOpts(t, s.foreign(t, ".tar.gz"), host, s.pub)
			opts.Client = newClient()
			if _, err := mirror.Import(ctx, opts); err != nil {
				t.Fatalf("import: %v", err)
			}
			src := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
			if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: src, Destination: host + "/copy/bundle",
				Trust: trustKeys(s.pub), Client: newClient(), Transfer: transferOpts()}); err != nil {
				t.Fatalf("sync within one registry: %v", err)
			}
			if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/pushed/bundle", Client: newClient(), Transfer: transferOpts()}); err != nil {
				t.Fatalf("push: %v", err)
			}
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: host + "/copy/bundle:" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "p"),
				Trust: trustKeys(s.pub), Client: newClient(), Transfer: transferOpts()}); err != nil {
				t.Fatalf("pull: %v", err)
			}
		})
	}
}
