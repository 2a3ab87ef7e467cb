package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestBasicAuth pushes to a distribution registry that requires basic
// auth: refused without credentials, accepted with them from a docker
// config.json, and login/logout write and remove them there.
func TestBasicAuth(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	dir := t.TempDir()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret")})
	ctx := context.Background()
	push := func(cfg string) error {
		client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()})
		return err
	}
	empty := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(empty, []byte("{}"), 0o600)
	if err := push(empty); !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) {
		t.Fatalf("push without credentials: %v", err)
	}
	if err := push(testutil.DockerConfig(t, host, "mirror", "s3cret")); err != nil {
		t.Fatalf("push with config.json credentials: %v", err)
	}

	cfg := filepath.Join(t.TempDir(), "config.json")
	client, _ := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
	if err := mirror.Login(ctx, mirror.LoginOptions{Registry: host, Username: "mirror", Password: "wrong", Client: client}); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	if err := mirror.Login(ctx, mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client}); err != nil {
		t.Fatal(err)
	}
	if err := push(cfg); err != nil {
		t.Fatalf("push after login: %v", err)
	}
	if removed, err := mirror.Logout(ctx, client, host); err != nil || !removed {
		t.Fatalf("logout: removed %v, %v", removed, err)
	}
	after, _ := os.ReadFile(cfg)
	if strings.Contains(string(after), host) {
		t.Errorf("logout left credentials: %s", after)
	}
	// Logging out again finds nothing to remove and says so (it used to
	// report "Removed credentials" all the same), writing nothing.
	if removed, err := mirror.Logout(ctx, client, host); err != nil || removed {
		t.Fatalf("second logout: removed %v, %v; want nothing removed", removed, err)
	}
	if again, _ := os.ReadFile(cfg); string(again) != string(after) {
		t.Errorf("a logout with nothing to remove rewrote config.json: %s", again)
	}
}

// TestTokenAuth pushes to, and syncs from, a distribution registry that
// requires bearer tokens from a token service (the flow of most hosted
// registries): refused without credentials or with a wrong password; with
// them from config.json the bundle goes up, through tokens, and comes back
// out to another registry with the same root.
func TestTokenAuth(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens})
	ctx := context.Background()
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if challenge := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `Bearer realm="`+tokens.Realm) {
		t.Fatalf("registry answers %d %q, want a bearer challenge to %s", resp.StatusCode, challenge, tokens.Realm)
	}
	client := func(cfg string) *remote.Client {
		c, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	push := func(cfg string) (*mirror.PlaceResult, error) {
		return mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client(cfg), Transfer: transferOpts()})
	}
	empty := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(empty, []byte("{}"), 0o600)
	for name, cfg := range map[string]string{"no credentials": empty, "wrong password": testutil.DockerConfig(t, host, "mirror", "wrong")} {
		_, err := push(cfg)
		if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) {
			t.Fatalf("push with %s: %v", name, err)
		}
		// The credentials to check are the registry's, not its token
		// service's (Docker Hub's auth.docker.io is no place to log in).
		tokenHost := strings.Split(strings.TrimPrefix(tokens.Realm, "http://"), "/")[0]
		if strings.Contains(err.Error(), "check the credentials for "+tokenHost) {
			t.Errorf("push with %s sends the user to the token service: %v", name, err)
		}
	}
	if tokens.Issued.Load() != 0 || tokens.Refused.Load() == 0 {
		t.Fatalf("token service issued %d, refused %d before any credentials", tokens.Issued.Load(), tokens.Refused.Load())
	}

	creds := testutil.DockerConfig(t, host, "mirror", "s3cret")
	pushed, err := push(creds)
	if err != nil {
		t.Fatalf("push with config.json credentials: %v", err)
	}
	if tokens.Issued.Load() == 0 {
		t.Fatal("push went through without a token")
	}
	target := testutil.Distribution(t)
	synced, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version, Destination: target + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: client(creds), Transfer: transferOpts()})
	if err != nil {
		t.Fatalf("sync from the token registry: %v", err)
	}
	repo, _ := testutil.Client(t).Repository(target + "/stellaops/mirror-bundle")
	if d, err := repo.Resolve(ctx, s.rel.Spec.Version); err != nil || d.Digest != pushed.Root || synced.Root != pushed.Root {
		t.Errorf("root pushed %s, synced %s, at the target %s (%v)", pushed.Root, synced.Root, d.Digest, err)
	}
}

// TestTLSWithPrivateCA pushes to a distribution registry serving TLS with
// a certificate from a test CA: a clear TLS error without --ca-file,
// success with it.
func TestTLSWithPrivateCA(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	dir := t.TempDir()
	ca := testutil.NewRootCA(t, "Test Registry CA")
	certFile, keyFile := ca.ServerCert(t, dir)
	caFile := testutil.WritePEM(t, dir, "ca.pem", ca.Cert)
	host := testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: certFile, TLSKey: keyFile})
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	push := func(opts remote.Options) error {
		opts.ConfigFile, opts.Retries = cfg, 1
		client, err := remote.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()})
		return err
	}
	err := push(remote.Options{})
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), "--ca-file") {
		t.Fatalf("push without the CA: %v", err)
	}
	if err := push(remote.Options{CAFile: caFile}); err != nil {
		t.Fatalf("push with --ca-file: %v", err)
	}
}

// TestSyncInterruptedAndResumed interrupts a sync part-way (the gate holds
// the destination once a third of the bytes went up and a layer is whole
// there) and re-runs it: the re-run sends only what is missing.
func TestSyncInterruptedAndResumed(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{BaseLayerSize: 4 << 20, LayerSize: 2 << 20}, 0)
	source, target := testutil.Distribution(t), testutil.Distribution(t)
	ctx := context.Background()
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: source + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	total := int64(4<<20 + 7*(2<<20))
	gate := testutil.NewGateAfterBlob(t, target, total/3, 2<<20)
	opts := mirror.SyncOptions{Now: testNow, Source: source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version, Destination: gate.Host + "/mirror/bundle",
		Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := mirror.Sync(cctx, opts); done <- err }()
	select {
	case <-gate.Reached:
		cancel()
	case err := <-done:
		t.Fatalf("sync ended before the gate: %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted sync: %v", err)
	}
	gate.Open()
	res, err := mirror.Sync(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs.Skipped == 0 || res.Blobs.BytesSent >= total {
		t.Errorf("re-run skipped nothing or sent every layer again (%d of %d bytes): %+v", res.Blobs.BytesSent, total, res.Blobs)
	}
	repo, _ := client.Repository(target + "/mirror/bundle")
	if d, err := repo.Resolve(ctx, s.rel.Spec.Version); err != nil || d.Digest != res.Root {
		t.Errorf("root after re-run: %s (%v)", d.Digest, err)
	}
}

// A config.json that is a symlink (dotfiles kept in a repository, a
// mounted secret) is written through by login and logout, as docker does:
// the link stays a link and the file it names gets the credentials. Login
// used to replace the link with a plain file.
func TestLoginWritesThroughSymlinkedConfig(t *testing.T) {
	dir := t.TempDir()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret")})
	target := filepath.Join(t.TempDir(), "dotfiles", "docker-config.json")
	os.MkdirAll(filepath.Dir(target), 0o700)
	if err := os.WriteFile(target, []byte(`{"auths":{},"psFormat":"table {{.ID}}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		config func(link string) remote.Options
	}{
		{"registry-config", func(link string) remote.Options { return remote.Options{PlainHTTP: true, ConfigFile: link} }},
		{"DOCKER_CONFIG", func(link string) remote.Options {
			t.Setenv("DOCKER_CONFIG", filepath.Dir(link))
			return remote.Options{PlainHTTP: true}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			link := filepath.Join(t.TempDir(), "config.json")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			client, err := remote.New(tt.config(link))
			if err != nil {
				t.Fatal(err)
			}
			if err := mirror.Login(t.Context(), mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("login replaced the symlink %s: %v %v", link, fi.Mode(), err)
			}
			data, _ := os.ReadFile(target)
			if !strings.Contains(string(data), host) || !strings.Contains(string(data), "psFormat") {
				t.Fatalf("the file the link names lacks the credentials or lost its other keys: %s", data)
			}
			if _, err := mirror.Logout(t.Context(), client, host); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
				t.Fatal("logout replaced the symlink")
			}
			if data, _ := os.ReadFile(target); strings.Contains(string(data), host) {
				t.Fatalf("logout left the credentials: %s", data)
			}
		})
	}
}
