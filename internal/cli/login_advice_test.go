package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// adviceRuns runs the login advised in stderr, between "`stella " and the
// next "`", as printed, USER given as mirror and the password on stdin,
// and checks that it saved credentials for host in cfg.
func adviceRuns(t *testing.T, stderr, host, cfg string) {
	t.Helper()
	_, rest, ok := strings.Cut(stderr, "`stella mirror login ")
	login, _, _ := strings.Cut(rest, "`")
	if !ok || login == "" {
		t.Fatalf("stderr %q: advises no login", stderr)
	}
	args := append([]string{"mirror", "login"}, strings.Fields(strings.Replace(login, "USER", "mirror", 1))...)
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), args, strings.NewReader("s3cret\n"), &out, &errOut); code != 0 {
		t.Fatalf("the advised login, `stella mirror login %s`: exit %d\n%s%s", login, code, out.String(), errOut.String())
	}
	if saved, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(saved), host) {
		t.Errorf("the advised login saved no credentials for %s: %s (%v)", host, saved, err)
	}
}

// TestCredentialsHintLoginRunsMutualTLS: the login a registry's Basic
// challenge without credentials advises runs as printed against a
// registry behind mutual TLS: with the run's --ca-file, --cert-file and
// --key-file (and --registry-config). The hint printed the login bare and
// said to add "the TLS flags (--ca-file, --certs-dir) and
// --registry-config of this run", naming neither --cert-file nor
// --key-file, so the login, run as printed, failed on the registry's
// certificate, and with --ca-file alone the registry refused the
// handshake (found by review).
func TestCredentialsHintLoginRunsMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := testutil.NewRootCA(t, "Registry CA"), testutil.NewRootCA(t, "Client CA")
	serverCert, serverKey := serverCA.ServerCert(t, dir)
	caFile := testutil.WritePEM(t, dir, "registry-ca.pem", serverCA.Cert)
	clientCAs := testutil.WritePEM(t, dir, "client-ca.pem", clientCA.Cert)
	certFile, keyFile := clientCA.ClientCert(t, dir, "client")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{
		TLSCert: serverCert, TLSKey: serverKey, ClientCAs: []string{clientCAs},
		Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret"),
	})
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "mirror", "pull", host+"/stellaops/mirror-bundle:1", filepath.Join(dir, "out"),
		"--ca-file", caFile, "--cert-file", certFile, "--key-file", keyFile, "--registry-config", cfg, "--retries", "0")
	if code != ExitInput || !strings.Contains(stderr, "the registry wants credentials") {
		t.Fatalf("exit %d, stderr %q; want the registry's want of credentials", code, stderr)
	}
	adviceRuns(t, stderr, host, cfg)
}

// TestTokenServiceNoCredentialsAdvisesLogin: a registry whose token
// service refuses a run that has no credentials for it advises the login
// that saves them, as doctor does, a command that runs as printed. It
// said "check the credentials for the registry: its token service at
// HOST refused them", of credentials there were none of (found by
// review).
func TestTokenServiceNoCredentialsAdvisesLogin(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens})
	tokenHost := strings.TrimSuffix(strings.TrimPrefix(tokens.Realm, "http://"), "/token")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "mirror", "pull", host+"/stellaops/mirror-bundle:1", filepath.Join(dir, "out"),
		"--plain-http-host", host, "--plain-http-host", tokenHost, "--registry-config", cfg, "--retries", "0")
	if code != ExitInput || strings.Contains(stderr, "check the credentials") || !strings.Contains(stderr, "no credentials") {
		t.Fatalf("exit %d, stderr %q; want the token service's refusal of a run without credentials, advising a login", code, stderr)
	}
	adviceRuns(t, stderr, host, cfg)
	// With credentials, wrong ones, the refusal is still theirs to check.
	wrong := testutil.DockerConfig(t, host, "mirror", "wrong")
	code, _, stderr = run(t, "mirror", "pull", host+"/stellaops/mirror-bundle:1", filepath.Join(dir, "out"),
		"--plain-http-host", host, "--plain-http-host", tokenHost, "--registry-config", wrong, "--retries", "0")
	if code != ExitInput || !strings.Contains(stderr, "check the credentials for the registry: its token service at "+tokenHost+" refused them") {
		t.Errorf("wrong credentials: exit %d, stderr %q; want them to check", code, stderr)
	}
}

// TestAnonymousTokenRefusedPushAdvisesLogin: a registry whose token
// service grants a run without credentials a token to pull (Docker Hub's,
// Harbor's public repositories) refuses its push itself, 401
// insufficient_scope; the push, and doctor's probe, advise the login that
// saves credentials for it, a command that runs as printed, after which
// the push goes through. They said "check the credentials for HOST", of
// credentials there were none of (found by review).
func TestAnonymousTokenRefusedPushAdvisesLogin(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	tokens.AnonymousPull.Store(true)
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens})
	tokenHost := strings.TrimSuffix(strings.TrimPrefix(tokens.Realm, "http://"), "/token")
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--plain-http-host", host, "--plain-http-host", tokenHost, "--registry-config", cfg, "--retries", "0"}
	push := append([]string{"mirror", "push", filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles", "v1", "full.tar"),
		host + "/stellaops/mirror-bundle:1", "--allow-expired", "--quiet"}, flags...)
	code, _, stderr := run(t, push...)
	if code != ExitInput || strings.Contains(stderr, "check the credentials") || !strings.Contains(stderr, "no credentials for "+host) {
		t.Fatalf("push: exit %d, stderr %q; want the registry's refusal of a run without credentials, advising a login", code, stderr)
	}
	code, stdout, _ := run(t, append([]string{"mirror", "doctor", "--registry", host}, flags...)...)
	if code == 0 || strings.Contains(stdout, "check the credentials") || !strings.Contains(stdout, "no credentials for "+host) {
		t.Errorf("doctor: exit %d, stdout %q; want its push probe to advise a login", code, stdout)
	}
	adviceRuns(t, stderr, host, cfg)
	if code, _, stderr := run(t, push...); code != 0 {
		t.Errorf("push after the advised login: exit %d, stderr %q", code, stderr)
	}
}

// TestRefusedCredentialsAdviseLogin: credentials a registry, or its token
// service, refuses (a password changed or revoked since the login) are
// to check, with the login that replaces them, a command that runs as
// printed, after which the registry takes the run. It said "check the
// credentials for HOST" and no more, of credentials kept in a file or a
// helper the operator had to find (found by review).
func TestRefusedCredentialsAdviseLogin(t *testing.T) {
	dir := t.TempDir()
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	tokenHost := strings.TrimSuffix(strings.TrimPrefix(tokens.Realm, "http://"), "/token")
	for name, host := range map[string]string{
		"Basic":  testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, dir, "mirror", "s3cret")}),
		"Bearer": testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens}),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testutil.DockerConfig(t, host, "mirror", "revoked")
			pull := []string{"mirror", "pull", host + "/stellaops/mirror-bundle:1", filepath.Join(t.TempDir(), "out"),
				"--plain-http-host", host, "--plain-http-host", tokenHost, "--registry-config", cfg, "--retries", "0"}
			code, _, stderr := run(t, pull...)
			if code != ExitInput || !strings.Contains(stderr, "check the credentials for ") || !strings.Contains(stderr, "replaces them") {
				t.Fatalf("exit %d, stderr %q; want the credentials to check and the login that replaces them", code, stderr)
			}
			adviceRuns(t, stderr, host, cfg)
			if code, _, stderr = run(t, pull...); code != ExitInput || !strings.Contains(stderr, "no such repository") {
				t.Errorf("after the advised login: exit %d, stderr %q; want the registry to take the credentials", code, stderr)
			}
		})
	}
}
