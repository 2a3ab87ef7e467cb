package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestPlainHTTPHostLoginAdviceRuns: a registry without TLS whose token
// service is on another port, also without TLS (docker_auth beside the
// registry), is reached with --plain-http-host for each. doctor, finding
// no credentials, advises a login; pasted as printed, the login saves
// them. The advice carried --plain-http-host of the registry alone, so
// the login's token request was refused ("credentials for HOST not sent in
// plain HTTP to the token service, which --plain-http-host does not
// name") and the advised command failed (found by review).
func TestPlainHTTPHostLoginAdviceRuns(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens})
	tokenHost := strings.TrimSuffix(strings.TrimPrefix(tokens.Realm, "http://"), "/token")
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr := run(t, "mirror", "doctor", "--registry", host, "--plain-http-host", host, "--plain-http-host", tokenHost,
		"--registry-config", cfg, "--retries", "0", "--format", "json")
	var res struct {
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("doctor: %v\n%s%s", err, stdout, stderr)
	}
	var login string
	for _, c := range res.Checks {
		if c.Name == "auth" {
			if _, rest, ok := strings.Cut(c.Detail, "`stella "); ok {
				login, _, _ = strings.Cut(rest, "`")
			}
		}
	}
	if login == "" {
		t.Fatalf("doctor advises no login:\n%s", stdout)
	}
	args := strings.Fields(strings.Replace(login, "USER", "mirror", 1))
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), args, strings.NewReader("s3cret\n"), &out, &errOut); code != 0 {
		t.Fatalf("the login doctor advises, `stella %s`: exit %d\n%s%s", login, code, out.String(), errOut.String())
	}
	saved, err := os.ReadFile(cfg)
	if err != nil || !strings.Contains(string(saved), host) {
		t.Errorf("the advised login saved no credentials for %s: %s (%v)", host, saved, err)
	}
}

// TestDoctorPlainTokenServiceNotNamed: doctor of a registry named with
// --plain-http-host whose token service is another host without TLS, not
// named, with credentials for the registry: stella does not send them
// there, and doctor says so, naming the host to add. It said the registry
// "refused the credentials", and TROUBLESHOOT has an operator check the
// account (found by review).
func TestDoctorPlainTokenServiceNotNamed(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens})
	tokenHost := strings.TrimSuffix(strings.TrimPrefix(tokens.Realm, "http://"), "/token")
	cfg := testutil.DockerConfig(t, host, "mirror", "s3cret")
	code, stdout, stderr := run(t, "mirror", "doctor", "--registry", host, "--plain-http-host", host, "--registry-config", cfg, "--retries", "0", "--format", "json")
	var res struct {
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("doctor: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	for _, c := range res.Checks {
		if c.Name != "auth" {
			continue
		}
		if c.Status != "fail" || strings.Contains(c.Detail, "refused the credentials") || !strings.Contains(c.Detail, "were not sent") ||
			!strings.Contains(c.Detail, "--plain-http-host "+tokenHost) {
			t.Errorf("auth %s: %s\nwant a failure saying the credentials were not sent, naming --plain-http-host %s", c.Status, c.Detail, tokenHost)
		}
		if tokens.Issued.Load() != 0 {
			t.Errorf("the token service not named issued %d tokens", tokens.Issued.Load())
		}
		return
	}
	t.Fatalf("no auth check:\n%s", stdout)
}

// TestSidePlainHTTPLoginAdviceRuns: the login a missing --registry-config
// advises runs as printed for the registry a sync's --to-plain-http (or
// --from-plain-http) or an import REF's talks plain HTTP to. It carried
// --plain-http-host alone, so the login talked HTTPS to that registry,
// without TLS, and failed ("server gave HTTP response to HTTPS client")
// (found by review).
func TestSidePlainHTTPLoginAdviceRuns(t *testing.T) {
	dir := t.TempDir()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret")})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sync --to-plain-http", []string{"mirror", "sync", "tls.example/stellaops/mirror-bundle:1", host + "/stellaops/mirror-bundle", "--to-plain-http"}},
		{"sync --from-plain-http", []string{"mirror", "sync", host + "/stellaops/mirror-bundle:1", "tls.example/stellaops/mirror-bundle", "--from-plain-http"}},
		{"import --to-plain-http", []string{"mirror", "import", "tls.example/stellaops/mirror-bundle:1", "--registry", host, "--to-plain-http"}},
		{"import --from-plain-http", []string{"mirror", "import", host + "/stellaops/mirror-bundle:1", "--registry", "tls.example", "--from-plain-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.json")
			code, _, stderr := run(t, append(tc.args, "--key", "cosign.pub", "--registry-config", cfg)...)
			_, rest, ok := strings.Cut(stderr, "(stella ")
			login, _, _ := strings.Cut(rest, " writes it)")
			if code != ExitInput || !ok || login == "" {
				t.Fatalf("exit %d, stderr %q; want a missing --registry-config advising a login", code, stderr)
			}
			args := strings.Fields(strings.NewReplacer("HOST", host, "USER", "mirror").Replace(login))
			var out, errOut bytes.Buffer
			if code := Execute(context.Background(), args, strings.NewReader("s3cret\n"), &out, &errOut); code != 0 {
				t.Fatalf("the advised login, `stella %s`: exit %d\n%s%s", login, code, out.String(), errOut.String())
			}
			if saved, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(saved), host) {
				t.Errorf("the advised login saved no credentials for %s: %s (%v)", host, saved, err)
			}
		})
	}
}

// TestCredentialsHintLoginRuns: the login a registry's Basic challenge
// without credentials advises runs, with the --registry-config of the run
// as the hint says, for a registry the run talked plain HTTP to by a
// sync's --from-plain-http or an import REF's. The hint named HOST and
// "the --plain-http (or --plain-http-host) of this run", which such a run
// has not, so the login talked HTTPS to a registry without TLS and failed
// (found by review).
func TestCredentialsHintLoginRuns(t *testing.T) {
	dir := t.TempDir()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret")})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sync --from-plain-http", []string{"mirror", "sync", host + "/stellaops/mirror-bundle:1", "127.0.0.1:1/stellaops/mirror-bundle", "--from-plain-http"}},
		{"import --from-plain-http", []string{"mirror", "import", host + "/stellaops/mirror-bundle:1", "--registry", "127.0.0.1:1", "--from-plain-http"}},
		{"pull --plain-http", []string{"mirror", "pull", host + "/stellaops/mirror-bundle:1", filepath.Join(t.TempDir(), "out"), "--plain-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := run(t, append(tc.args, "--key", filepath.Join("..", "..", "tools", "cosign", "cosign.pub"), "--registry-config", cfg, "--retries", "0")...)
			if code != ExitInput || !strings.Contains(stderr, "the registry wants credentials: `stella ") {
				t.Fatalf("exit %d, stderr %q; want the registry's want of credentials, advising a login", code, stderr)
			}
			// As printed: it carries the run's --registry-config.
			adviceRuns(t, stderr, host, cfg)
		})
	}
}
