package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRegistryConfigMissingRefused: a --registry-config naming no file (a
// name mistyped) was read as no credentials at all, and every request
// went to the registry anonymously, where a missing --ca-file or
// --certs-dir is refused: against a registry that takes anonymous pushes
// the run passed, against one that does not it failed as the registry
// refusing the credentials. It is refused, naming it, before any request;
// login, which writes it, still makes it.
func TestRegistryConfigMissingRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	missing := filepath.Join(t.TempDir(), "confg.json")
	code, stdout, stderr := run(t, "mirror", "doctor", "--registry", host, "--plain-http", "--registry-config", missing)
	want := "stella: --registry-config " + missing + ": no such file (stella mirror login HOST -u USER --password-stdin --plain-http --registry-config " + missing + " writes it): not found\n"
	if code != ExitInput || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", code, stdout, stderr, ExitInput, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the registry got %d requests", n)
	}
}

// TestLogoutRegistryConfigMissing: logout of a --registry-config naming no
// file is "not logged in", exit 0, as docker logout and docs/json.md have
// it: a cleanup that logs out whether or not the login ran (a trap, a
// re-run) failed, exit 1, once the missing file was refused for every
// command but login (found by review).
func TestLogoutRegistryConfigMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.json")
	code, stdout, stderr := run(t, "mirror", "logout", "127.0.0.1:5000", "--registry-config", missing)
	if code != 0 || !strings.Contains(stdout, "No credentials stored for 127.0.0.1:5000") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 0, no credentials stored", code, stdout, stderr)
	}
}

// TestRegistryConfigMissingAdviceRuns: the login a --registry-config naming
// no file advises runs as written for the run that was refused: with its
// --plain-http (without it, login talks HTTPS to a registry without TLS,
// and fails), and the file's name quoted for the shell where it holds a
// blank. It gave the name bare and no --plain-http (found by review).
func TestRegistryConfigMissingAdviceRuns(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "site confg.json")
	code, _, stderr := run(t, "mirror", "pull", "127.0.0.1:1/a/b:1", filepath.Join(t.TempDir(), "out"), "--plain-http", "--registry-config", missing)
	want := "(stella mirror login HOST -u USER --password-stdin --plain-http --registry-config '" + missing + "' writes it)"
	if code != ExitInput || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want the advice %s", code, stderr, want)
	}
}

// TestPasswordRefusedBeforeRegistryConfig: a reference holding a password
// (USER:PASSWORD@HOST/…) is refused before a --registry-config naming no
// file: the secret on the command line is the more important error, and
// fixing the config first left it there for the run after. The missing
// file was reported first, and the password only on the next run; neither
// refusal prints the password (found by review).
func TestPasswordRefusedBeforeRegistryConfig(t *testing.T) {
	const secret = "s3cr3tPassw0rd"
	dir := t.TempDir()
	missing := filepath.Join(dir, "confg.json")
	for _, args := range [][]string{
		{"mirror", "push", dir, "mirror:" + secret + "@127.0.0.1:5000/stellaops/mirror-bundle", "--registry-config", missing},
		{"mirror", "pull", "mirror:" + secret + "@127.0.0.1:5000/stellaops/mirror-bundle:1", filepath.Join(dir, "out"), "--registry-config", missing},
		{"mirror", "import", dir, "--registry", "mirror:" + secret + "@127.0.0.1:5000", "--key", "cosign.pub", "--registry-config", missing},
		{"mirror", "sync", "mirror:" + secret + "@127.0.0.1:5000/a/b:1", "127.0.0.1:5001/a/b", "--from-plain-http", "--registry-config", missing},
		// Before a global flag's bad value too: fixed, it was refused on
		// the run after.
		{"mirror", "push", dir, "mirror:" + secret + "@127.0.0.1:5000/stellaops/mirror-bundle", "--concurrency", "0"},
		{"mirror", "pull", "mirror:" + secret + "@127.0.0.1:5000/stellaops/mirror-bundle:1", filepath.Join(dir, "out"), "--format", "yaml"},
	} {
		code, stdout, stderr := run(t, args...)
		if code != ExitInput || stdout != "" || strings.Contains(stderr, secret) ||
			!strings.Contains(stderr, "a reference holds no password") || strings.Contains(stderr, "--registry-config") ||
			strings.Contains(stderr, "--concurrency") || strings.Contains(stderr, "yaml") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, the password refused (not printed) before the missing --registry-config or a bad flag", args[1], code, stderr, ExitInput)
		}
	}
}

// TestRegistryConfigMissingLocalCommands: a command that talks to no
// registry reads no --registry-config, and does not refuse one naming no
// file. An operator whose alias or wrapper gives --registry-config to
// every command could not keygen, sign, verify, verify-checksums, pack,
// inspect a bundle on disk or serve one on the far side, where no such
// file is: each was refused, exit 1, advising a login no registry asked
// for. A command that talks to registries (push, an inspect of a REF)
// still refuses it (found by review).
func TestRegistryConfigMissingLocalCommands(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "x")
	work := t.TempDir()
	missing := filepath.Join(work, "confg.json")
	dir, key := testBundle(t), filepath.Join(work, "cosign")
	archive := filepath.Join(work, "bundle.tar")
	for _, args := range [][]string{
		{"mirror", "keygen", "--output-key-prefix", key},
		{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key + ".key"},
		{"mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", key + ".pub"},
		{"mirror", "verify-checksums", dir, "--key", key + ".pub"},
		{"mirror", "pack", dir, "--output", archive},
		{"mirror", "verify", archive, "--key", key + ".pub"},
		{"mirror", "inspect", archive, "--key", key + ".pub"},
		{"mirror", "inspect", dir},
	} {
		if code, stdout, stderr := run(t, append(args, "--registry-config", missing)...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args[1:], code, stdout, stderr)
		}
	}
	// serve, and inspect of no REF, refuse a bundle that is not there,
	// not the config file.
	for _, args := range [][]string{
		{"mirror", "serve", filepath.Join(work, "nothing"), "--key", key + ".pub"},
		{"mirror", "inspect", filepath.Join(work, "nothing.tar")},
	} {
		code, _, stderr := run(t, append(args, "--registry-config", missing)...)
		if code != ExitInput || !strings.Contains(stderr, "nothing") || strings.Contains(stderr, "registry-config") {
			t.Errorf("%v of no bundle: exit %d, stderr %q; want the bundle refused, not --registry-config", args[1], code, stderr)
		}
	}
	for _, args := range [][]string{
		{"mirror", "push", archive, "127.0.0.1:1/stellaops/mirror-bundle", "--key", key + ".pub"},
		{"mirror", "inspect", "127.0.0.1:1/stellaops/mirror-bundle:1"},
	} {
		code, _, stderr := run(t, append(args, "--registry-config", missing)...)
		if code != ExitInput || !strings.Contains(stderr, "--registry-config "+missing+": no such file") {
			t.Errorf("%v: exit %d, stderr %q; want the missing --registry-config refused", args[1:], code, stderr)
		}
	}
}

// TestInspectOfPathReadsNoRegistryConfig: inspect of a bundle on disk
// talks to no registry, and so reads no credentials, as verify does: a
// --registry-config (or docker's config.json) that does not decode, or
// that this user may not read (one a sudo login left 0600 to root), was
// read all the same, and refused the inspect of a bundle directory or
// archive that verify, given the same flags, verified: "credentials:
// failed to decode config file …", exit 1 (found by review).
func TestInspectOfPathReadsNoRegistryConfig(t *testing.T) {
	work := t.TempDir()
	bad := filepath.Join(work, "config.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := testBundle(t)
	if code, stdout, stderr := run(t, "mirror", "inspect", dir, "--registry-config", bad); code != 0 {
		t.Errorf("inspect of a bundle directory with a --registry-config that does not decode: exit %d\n%s%s", code, stdout, stderr)
	}
	// A URL, read as no REF, is still refused as a reference with a
	// scheme, not as a bundle not there.
	code, _, stderr := run(t, "mirror", "inspect", "http://127.0.0.1:1/stellaops/mirror-bundle:1", "--registry-config", bad)
	if code != ExitInput || !strings.Contains(stderr, "no scheme") {
		t.Errorf("inspect of a URL: exit %d, stderr %q; want it refused as a reference with a scheme", code, stderr)
	}
	// A REF still reads it.
	code, _, stderr = run(t, "mirror", "inspect", "127.0.0.1:1/stellaops/mirror-bundle:1", "--registry-config", bad)
	if code == 0 || !strings.Contains(stderr, "failed to decode config file") {
		t.Errorf("inspect of a REF with a --registry-config that does not decode: exit %d, stderr %q; want it refused", code, stderr)
	}
}
