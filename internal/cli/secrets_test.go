package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestSecretsNeverPrinted runs every command of stella (a command with no
// step fails the test) with --verbose, with private keys and passwords in
// play: an encrypted key file and its password (COSIGN_PASSWORD), the same
// key as env://VAR (base64 of the PEM), a wrong password, and a registry
// password given to login, for a registry that requires it. It then looks
// for the passwords and for the private key in every form (the encrypted
// PEM's lines, the env:// value, the decrypted PKCS #8 key and its scalar,
// raw, hex and base64) in stdout and stderr of every run, in every file
// written under the work directory (temporary files and the docker config
// included) but the key file itself, and in every request body sent to
// the registry.
func TestSecretsNeverPrinted(t *testing.T) {
	const password = "s3cret-Passw0rd-never-shown"
	const wrong = "wr0ng-Passw0rd-never-shown"
	const user, regPassword = "mirror", "r3gistry-Passw0rd-never-shown"
	work := t.TempDir()
	for _, d := range []string{"docker", "tmp", "keys"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOCKER_CONFIG", filepath.Join(work, "docker"))
	t.Setenv("TMPDIR", filepath.Join(work, "tmp"))
	t.Setenv("COSIGN_PASSWORD", password)
	regCfg := filepath.Join(work, "docker", "config.json")
	os.WriteFile(regCfg, []byte("{}"), 0o600)

	source := testutil.Registry(t)
	rel, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	bodies := &recorder{}
	host := bodies.proxy(t, testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), user, regPassword)}))

	var out strings.Builder
	ran := map[string]bool{}
	record := func(args []string, code int, stdout, stderr string) int {
		out.WriteString(stdout)
		out.WriteString(stderr)
		name := args[0]
		if name == "mirror" {
			name = args[1]
		}
		ran[name] = true
		return code
	}
	prefix := filepath.Join(work, "keys", "cosign")
	keygen := []string{"mirror", "keygen", "--output-key-prefix", prefix, "--verbose"}
	if code, o, e := run(t, keygen...); record(keygen, code, o, e) != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, out.String())
	}
	secrets := keySecrets(t, prefix+".key", password)
	privPEM, _ := os.ReadFile(prefix + ".key")
	b64 := base64.StdEncoding.EncodeToString(privPEM)
	t.Setenv("STELLA_TEST_KEY_B64", b64)
	for i := 0; i+32 <= len(b64); i += 64 {
		secrets["the env:// key"] = append(secrets["the env:// key"], []byte(b64[i:i+32]))
	}
	secrets["the key password"] = [][]byte{[]byte(password)}
	secrets["the wrong password"] = [][]byte{[]byte(wrong)}
	secrets["the registry password"] = [][]byte{[]byte(regPassword)}

	dir, archive := filepath.Join(work, "bundle"), filepath.Join(work, "bundle.tar")
	manifest, envelope := filepath.Join(dir, "manifest.json"), filepath.Join(dir, "manifest.dsse")
	pub, envKey := prefix+".pub", "env://STELLA_TEST_KEY_B64"
	reg := []string{"--plain-http", "--registry-config", regCfg, "--verbose"}
	bundleRef := host + "/stellaops/mirror-bundle:" + rel.Spec.Version
	steps := []struct {
		pass string // COSIGN_PASSWORD
		args []string
		want int
	}{
		{password, []string{"version"}, 0},
		{password, []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http", "--verbose"}, 0},
		{password, []string{"mirror", "create", "--images", releaseFile, "--output", filepath.Join(work, "created.tar"), "--key", envKey, "--plain-http", "--verbose"}, 0},
		{password, []string{"mirror", "sign", manifest, "--key", prefix + ".key", "--output", envelope, "--verbose"}, 0},
		{password, []string{"mirror", "sign", manifest, "--key", envKey, "--output", envelope, "--verbose", "--format", "json"}, 0},
		{wrong, []string{"mirror", "sign", manifest, "--key", prefix + ".key", "--output", envelope, "--verbose"}, ExitInput},
		{wrong, []string{"mirror", "sign", manifest, "--key", envKey, "--output", envelope, "--verbose", "--format", "json"}, ExitInput},
		{password, []string{"mirror", "verify", envelope, "--key", prefix + ".key", "--verbose"}, ExitInput},
		{password, []string{"mirror", "verify", envelope, "--key", envKey, "--verbose"}, ExitInput},
		{password, []string{"mirror", "verify", dir, "--key", pub, "--verbose", "--format", "json"}, 0},
		{password, []string{"mirror", "verify-checksums", dir, "--key", pub, "--verbose"}, 0},
		{password, []string{"mirror", "inspect", dir, "--key", pub, "--verbose"}, 0},
		{password, []string{"mirror", "pack", dir, "--output", archive, "--verbose"}, 0},
		{password, []string{"mirror", "pack", dir, "--output", filepath.Join(work, "split.tar"), "--split", "1M", "--key", prefix + ".key", "--verbose"}, 0},
		{wrong, []string{"mirror", "pack", dir, "--output", filepath.Join(work, "split2.tar"), "--split", "1M", "--key", prefix + ".key", "--verbose"}, ExitInput},
		{password, append([]string{"mirror", "push", archive, host + "/stellaops/mirror-bundle", "--key", pub, "--catalog-key", prefix + ".key"}, reg...), 0},
		{password, append([]string{"mirror", "import", archive, "--registry", host, "--key", pub, "--catalog-key", envKey, "--advisories-dir", filepath.Join(work, "advisories")}, reg...), 0},
		{password, append([]string{"mirror", "inspect", bundleRef, "--key", pub}, reg...), 0},
		{password, append([]string{"mirror", "pull", bundleRef, filepath.Join(work, "pulled"), "--key", pub}, reg...), 0},
		{password, append([]string{"mirror", "sync", bundleRef, host + "/copy/bundles", "--key", pub, "--images"}, reg...), 0},
		{password, append([]string{"mirror", "inventory", "--registry", host, "--output", filepath.Join(work, "inventory.json"), "--key", envKey, "--bundle-key", pub}, reg...), 0},
		{password, append([]string{"mirror", "catalog", host + "/stellaops/mirror-bundle", "--key", prefix + ".key", "--output", filepath.Join(work, "catalog")}, reg...), 0},
		{password, append([]string{"mirror", "catalog", host + "/stellaops/mirror-bundle", "--verify", "--key", pub}, reg...), 0},
		{password, append([]string{"mirror", "doctor", "--registry", host}, reg...), 0},
		{password, []string{"completion", "bash"}, 0},
		{password, []string{"help", "mirror", "import"}, 0},
	}
	// login first: the other registry steps need its credentials.
	var stdout, stderr bytes.Buffer
	login := append([]string{"mirror", "login", host, "-u", user, "--password-stdin"}, reg...)
	if code := record(login, Execute(t.Context(), login, strings.NewReader(regPassword+"\n"), &stdout, &stderr), stdout.String(), stderr.String()); code != 0 {
		t.Fatalf("login: exit %d\n%s", code, out.String())
	}
	for _, s := range steps {
		t.Setenv("COSIGN_PASSWORD", s.pass)
		code, o, e := run(t, s.args...)
		if record(s.args, code, o, e) != s.want {
			t.Fatalf("stella %s: exit %d, want %d\n%s%s", strings.Join(s.args, " "), code, s.want, o, e)
		}
	}
	t.Setenv("COSIGN_PASSWORD", password)
	serveUntilReady(t, record, []string{"mirror", "serve", archive, "--key", pub, "--addr", "127.0.0.1:0", "--verbose"})
	logout := append([]string{"mirror", "logout", host}, reg...)
	if code, o, e := run(t, logout...); record(logout, code, o, e) != 0 {
		t.Fatalf("logout: exit %d\n%s", code, out.String())
	}

	for _, name := range commandNames(NewRootCmd(&app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})) {
		if !ran[name] {
			t.Errorf("command %q has no step in TestSecretsNeverPrinted: add one", name)
		}
	}
	if !strings.Contains(out.String(), "wrong password") {
		t.Errorf("a wrong password is not reported clearly:\n%s", out.String())
	}
	leaks := func(where string, data []byte) {
		for what, forms := range secrets {
			for _, f := range forms {
				if bytes.Contains(data, f) {
					t.Errorf("%s holds %s", where, what)
					break
				}
			}
		}
	}
	leaks("the output of a command", []byte(out.String()))
	leaks("a request to the registry", bodies.all())
	err := filepath.WalkDir(work, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || p == prefix+".key" {
			return err
		}
		data, err := os.ReadFile(p)
		leaks(p, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// keySecrets decrypts a cosign key file and returns the private key in the
// forms it could leak in: the encrypted PEM's lines, the PKCS #8 key and
// the private scalar, raw, hex and base64 (in pieces, as they would wrap).
func keySecrets(t *testing.T, path, password string) map[string][][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][][]byte{}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") {
			secrets["the encrypted key file's lines"] = append(secrets["the encrypted key file's lines"], []byte(line))
		}
	}
	block, _ := pem.Decode(data)
	der, err := encrypted.Decrypt(block.Bytes, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	scalar, err := key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for what, raw := range map[string][]byte{"the PKCS #8 private key": der, "the private scalar": scalar} {
		secrets[what] = [][]byte{raw[:16], []byte(hex.EncodeToString(raw)[:32]), []byte(base64.StdEncoding.EncodeToString(raw)[:20]),
			[]byte(base64.RawURLEncoding.EncodeToString(raw)[:20])}
	}
	return secrets
}

// commandNames lists the commands of the tree, by their own name (help and
// completion included: they run without a key, but they run).
func commandNames(root *cobra.Command) []string {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var names []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden {
				continue
			}
			if sub.HasSubCommands() && sub.Name() != "completion" {
				walk(sub)
				continue
			}
			names = append(names, sub.Name())
		}
	}
	walk(root)
	return names
}

// serveUntilReady runs serve until it says where it listens, then stops it
// as Ctrl-C would.
func serveUntilReady(t *testing.T, record func([]string, int, string, string) int, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := &firstWrite{signal: make(chan struct{})}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Execute(ctx, args, nil, ready, &stderr) }()
	select {
	case <-ready.signal:
	case code := <-done:
		t.Fatalf("serve: exit %d before it was ready: %s", code, stderr.String())
	}
	cancel()
	code := <-done
	ready.mu.Lock()
	defer ready.mu.Unlock()
	if record(args, code, ready.buf.String(), stderr.String()) != 0 {
		t.Fatalf("serve: exit %d after an interrupt: %s", code, stderr.String())
	}
}

// recorder is a reverse proxy that keeps every request body it passes on.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) proxy(t *testing.T, target string) string {
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil {
			data, _ := io.ReadAll(req.Body)
			r.mu.Lock()
			r.buf.Write(data)
			r.buf.WriteString(req.URL.RawQuery)
			r.mu.Unlock()
			req.Body = io.NopCloser(bytes.NewReader(data))
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func (r *recorder) all() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf.Bytes()...)
}
