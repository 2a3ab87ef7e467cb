// Package testutil starts real registries for tests: go-containerregistry's
// in-process registry (with or without the OCI 1.1 referrers API) for unit
// tests, and the CNCF distribution registry binary on 127.0.0.1 for
// end-to-end tests. It also pushes the sample release into them.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// Registry starts an in-process registry with the referrers API and returns
// its host:port. It stops when the test ends.
func Registry(t testing.TB) string {
	return startInProcess(t, true, nil)
}

// RegistryNoReferrers starts an in-process registry without the referrers
// API (clients fall back to the sha256-<hex> tag).
func RegistryNoReferrers(t testing.TB) string {
	return startInProcess(t, false, nil)
}

// RegistryWrapped starts an in-process registry with the referrers API
// behind wrap, a handler that can alter what the real registry serves.
func RegistryWrapped(t testing.TB, wrap func(http.Handler) http.Handler) string {
	return startInProcess(t, true, wrap)
}

// ProxyWrapped starts a reverse proxy to the registry at host (the CNCF
// distribution registry, say) behind wrap, a handler that can alter what
// the registry answers, and returns the proxy's host:port. It stops when
// the test ends.
func ProxyWrapped(t testing.TB, host string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: host})
	// A request its client gave up on is the tests' doing, not news.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(wrap(proxy))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func startInProcess(t testing.TB, referrers bool, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Client returns a registry client that talks plain HTTP, with no
// credentials from the user's docker config, and retries once (tests of
// faults build their own with more).
func Client(t testing.TB) *remote.Client {
	return ClientWith(t, remote.Options{Retries: 1})
}

// ClientWith is Client with options (PlainHTTP and ConfigFile are set).
func ClientWith(t testing.TB, opts remote.Options) *remote.Client {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.PlainHTTP, opts.ConfigFile = true, cfg
	c, err := remote.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// PushSample pushes the sample release into the registry at host and
// writes its release file and advisories under a temporary directory.
func PushSample(t testing.TB, host string, spec sample.Spec) (rel *sample.Release, releaseFile, advisories string) {
	t.Helper()
	client := Client(t)
	spec.Registry = host
	rel, err := sample.Push(context.Background(), spec, func(repo string) (sample.Pusher, error) {
		return client.Repository(host + "/" + repo)
	})
	if err != nil {
		t.Fatal(err)
	}
	releaseFile, advisories, err = rel.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return rel, releaseFile, advisories
}

// RegistryBinary finds the CNCF distribution registry binary: $STELLA_REGISTRY_BIN,
// then bin/registry at the module root, then registry on $PATH. Without it
// the test is skipped, unless STELLA_E2E=1 (as in CI), where it fails.
func RegistryBinary(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("STELLA_REGISTRY_BIN"), filepath.Join(ModuleRoot(t), "bin", "registry")}
	if p, err := exec.LookPath("registry"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	if os.Getenv("STELLA_E2E") == "1" {
		t.Fatal("distribution registry binary not found (run .ci/run or make tools)")
	}
	t.Skip("distribution registry binary not found; run `make tools` (CI sets STELLA_E2E=1 and fails instead)")
	return ""
}

// DistributionOptions configure a distribution registry.
type DistributionOptions struct {
	// Htpasswd, if set, is an htpasswd file: the registry requires basic auth.
	Htpasswd string
	// TLSCert and TLSKey, if set, make the registry serve HTTPS.
	TLSCert, TLSKey string
	// NoDelete leaves deletes disabled, as distribution's own default
	// configuration does: DELETE answers 405.
	NoDelete bool
	// Token, if set, makes the registry require bearer tokens from it.
	Token *TokenService
	// ClientCAs, with TLSCert, are PEM files of the CAs whose client
	// certificates the registry accepts: it then demands one (mutual TLS,
	// http.tls.clientcas).
	ClientCAs []string
	// Storage, if set, is the registry's storage directory (a small tmpfs,
	// say); else a fresh directory beside its config.
	Storage string
	// ReadOnly puts the registry in read-only mode
	// (storage.maintenance.readonly), as for a maintenance window.
	ReadOnly bool
	// ProxyRemote, if set, makes the registry a pull-through cache of the
	// registry at that URL (proxy.remoteurl), which takes no push.
	ProxyRemote string
}

// Distribution starts the CNCF distribution registry on 127.0.0.1 with a
// fresh storage directory and returns its host:port. It stops when the test
// ends.
func Distribution(t testing.TB) string {
	return DistributionWith(t, DistributionOptions{})
}

// DistributionWith starts the distribution registry with options.
func DistributionWith(t testing.TB, opts DistributionOptions) string {
	t.Helper()
	addr, stop, err := StartDistribution(RegistryBinary(t), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// StartDistribution runs the distribution registry binary bin with its
// storage and config under dir, on a free port of 127.0.0.1, and waits until
// it answers. It is the non-test form of DistributionWith (the benchmarks
// use it).
func StartDistribution(bin, dir string, opts DistributionOptions) (addr string, stop func(), err error) {
	// Another process may still take the port first (one of these, started
	// at the same moment): then the registry exits at once, and another
	// port is tried.
	for range 3 {
		addr, stop, err = startDistribution(bin, dir, "", opts)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return addr, stop, err
}

// startDistribution starts the registry on addr ("": a free port).
func startDistribution(bin, dir, addr string, opts DistributionOptions) (_ string, stop func(), err error) {
	if addr == "" {
		if addr, err = FreeAddr(); err != nil {
			return "", nil, err
		}
	}
	storage := opts.Storage
	if storage == "" {
		storage = filepath.Join(dir, "data")
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %v
http:
  addr: %s
`, storage, !opts.NoDelete, addr)
	if opts.ReadOnly {
		cfg = strings.Replace(cfg, "  delete:\n", "  maintenance:\n    readonly:\n      enabled: true\n  delete:\n", 1)
	}
	if opts.TLSCert != "" {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", opts.TLSCert, opts.TLSKey)
		if len(opts.ClientCAs) > 0 {
			cfg += "    clientcas:\n"
			for _, ca := range opts.ClientCAs {
				cfg += fmt.Sprintf("      - %s\n", ca)
			}
		}
	}
	if opts.Htpasswd != "" {
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", opts.Htpasswd)
	}
	if ts := opts.Token; ts != nil {
		cfg += fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    jwks: %s\n", ts.Realm, ts.Service, ts.Issuer, ts.JWKS)
	}
	if opts.ProxyRemote != "" {
		// After the http section's own lines (tls), which it would
		// otherwise take.
		cfg += fmt.Sprintf("proxy:\n  remoteurl: %s\n", opts.ProxyRemote)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", nil, err
	}
	logPath := filepath.Join(dir, "registry.log")
	// Appended to: a registry restarted (RestartableDistribution) keeps
	// the log of its runs before.
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, err
	}
	// exited is closed once the registry exited, waitErr then holding how:
	// both waitReady and stop wait for it.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
			logf.Close()
		})
	}
	if err := waitReady(addr, opts.TLSCert != "", exited, &waitErr); err != nil {
		stop()
		logs, _ := os.ReadFile(logPath)
		return "", nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return addr, stop, nil
}

// waitReady waits until the registry accepts connections on addr; it fails
// when the registry exits or does not come up within 30 seconds.
func waitReady(addr string, tls bool, exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("registry exited: %v", *waitErr)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			if tls {
				return nil
			}
			if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a port that is not yet open; not used to order events
	}
	return fmt.Errorf("registry on %s did not start within 30s", addr)
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// CosignBinary finds the cosign binary: $STELLA_COSIGN_BIN, then cosign on
// $PATH (make tools installs it). Without it the test is skipped, unless
// STELLA_E2E=1 (as in CI), where it fails.
func CosignBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("STELLA_COSIGN_BIN"); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if os.Getenv("STELLA_E2E") == "1" {
		t.Fatal("cosign binary not found (run .ci/run or make tools)")
	}
	t.Skip("cosign binary not found; run `make tools` (CI sets STELLA_E2E=1 and fails instead)")
	return ""
}

// Tags lists every repository of the registry at host with its tags, the
// state a failed operation must leave unchanged.
func Tags(t testing.TB, host string) map[string][]string {
	t.Helper()
	return TagsWith(t, Client(t), host)
}

// TagsWith is Tags through client (one with TLS settings, say).
func TagsWith(t testing.TB, client *remote.Client, host string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	reg, err := client.Registry(host)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	err = reg.Repositories(ctx, "", func(repos []string) error {
		for _, name := range repos {
			repo, err := client.Repository(host + "/" + name)
			if err != nil {
				return err
			}
			out[name] = []string{}
			err = repo.Tags(ctx, "", func(tags []string) error {
				out[name] = append(out[name], tags...)
				return nil
			})
			// The registry v2.8 answers 404 for a repository it lists
			// that holds no tag (blobs alone, as a failed import leaves).
			if err != nil && !errors.Is(remote.Classify(err), errdef.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
