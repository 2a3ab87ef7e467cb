package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// plainAndTLS is an in-process registry without TLS and one with TLS only
// (its certificate issued by a private CA), each wanting Basic
// credentials, which a docker config.json holds for both; each holds a
// sample release of its own.
type plainAndTLS struct {
	plainHost, tlsHost, caFile, config string
	plainRel, tlsRel                   *sample.Release
	plainClient, tlsClient             *remote.Client
	// plainTLSAuth counts requests carrying credentials that reached the
	// TLS registry outside TLS (none can: it speaks TLS only, but the
	// count holds what it says).
	plainTLSAuth atomic.Int64
}

func basicAuth(user, password string, seen func(*http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if seen != nil {
				seen(r)
			}
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func startPlainAndTLS(t *testing.T) *plainAndTLS {
	t.Helper()
	r := &plainAndTLS{}
	dir := t.TempDir()
	ca := testutil.NewRootCA(t, "Registry CA")
	r.caFile = testutil.WritePEM(t, dir, "ca.pem", ca.Cert)
	r.tlsHost = testutil.RegistryTLS(t, ca, basicAuth("tls-user", "tls-s3cret", func(req *http.Request) {
		if _, _, ok := req.BasicAuth(); ok && req.TLS == nil {
			r.plainTLSAuth.Add(1)
		}
	}))
	r.plainHost = testutil.RegistryWrapped(t, basicAuth("plain-user", "plain-s3cret", nil))
	r.config = filepath.Join(dir, "config.json")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`, r.plainHost, b64("plain-user:plain-s3cret"), r.tlsHost, b64("tls-user:tls-s3cret"))
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.plainClient, err = remote.New(remote.Options{PlainHTTP: true, ConfigFile: r.config, Retries: 1}); err != nil {
		t.Fatal(err)
	}
	if r.tlsClient, err = remote.New(remote.Options{CAFile: r.caFile, ConfigFile: r.config, Retries: 1}); err != nil {
		t.Fatal(err)
	}
	push := func(client *remote.Client, host string, seed uint64) *sample.Release {
		rel, err := sample.Push(context.Background(), sample.Spec{Registry: host, Seed: seed}, func(repo string) (sample.Pusher, error) {
			return client.Repository(host + "/" + repo)
		})
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}
	r.plainRel, r.tlsRel = push(r.plainClient, r.plainHost, 1), push(r.tlsClient, r.tlsHost, 2)
	return r
}

// releaseList writes a plain release list, one reference a line, and
// returns its path.
func releaseList(t *testing.T, refs ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "images.txt")
	if err := os.WriteFile(p, []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameBlobs fails the test unless every blob of img is in the bundle
// directory out, byte for byte as the source registry serves it.
func sameBlobs(t *testing.T, out string, client *remote.Client, rel *sample.Release, img sample.Image) {
	t.Helper()
	repo, err := client.Repository(rel.Spec.Registry + "/" + img.Repository)
	if err != nil {
		t.Fatal(err)
	}
	for dg, size := range img.Blobs {
		got, err := os.ReadFile(filepath.Join(out, "blobs", dg.Algorithm().String(), dg.Encoded()))
		if err != nil {
			t.Errorf("%s of %s: not in the bundle: %v", dg, rel.Ref(img), err)
			continue
		}
		rc, err := repo.Fetch(context.Background(), ocispec.Descriptor{Digest: dg, Size: size})
		if err != nil {
			// A manifest is fetched as one.
			_, rc, err = repo.Manifests().FetchReference(context.Background(), dg.String())
		}
		if err != nil {
			t.Fatalf("%s of %s from its registry: %v", dg, rel.Ref(img), err)
		}
		want, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s of %s: the bundle's %d bytes differ from the registry's %d (%v)", dg, rel.Ref(img), len(got), len(want), err)
		}
	}
}

// TestCreateFromPlainAndTLSRegistries: a release naming images in a
// registry without TLS and in one with TLS (a private CA, --ca-file) could
// not be bundled: --plain-http talks HTTP to every registry, and the TLS
// one answers 400; without it the plain one fails. --plain-http-host HOST
// talks plain HTTP to that registry alone, the other keeping TLS and its
// verified certificate, each given its own credentials; the bundle holds
// the images of both byte for byte. A --base REF of the plain registry
// makes a delta of images from the TLS one.
func TestCreateFromPlainAndTLSRegistries(t *testing.T) {
	r := startPlainAndTLS(t)
	var refs []string
	for _, img := range r.plainRel.Images[:2] {
		refs = append(refs, r.plainRel.Ref(img))
	}
	for _, img := range r.tlsRel.Images[2:] {
		refs = append(refs, r.tlsRel.Ref(img))
	}
	images := releaseList(t, refs...)
	work := t.TempDir()
	common := []string{"--release-version", "2025.10.0", "--ca-file", r.caFile, "--registry-config", r.config, "--quiet"}
	create := func(name string, want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, append(append([]string{"mirror", "create", "--images", images}, args...), common...)...)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s%s", name, code, want, stdout, stderr)
		}
		return stderr
	}

	// Neither flag: the plain registry fails, the hint naming it.
	stderr := create("HTTPS to both", ExitInput, "--output", filepath.Join(work, "none"))
	if want := "--plain-http-host " + r.plainHost + " talks plain HTTP to it alone"; !strings.Contains(stderr, want) {
		t.Errorf("create without --plain-http-host does not say %q:\n%s", want, stderr)
	}
	// --plain-http is every registry: the TLS one answers 400.
	if stderr := create("--plain-http", ExitInput, "--output", filepath.Join(work, "none"), "--plain-http"); !strings.Contains(stderr, "drop --plain-http") {
		t.Errorf("create --plain-http from a TLS registry does not say to drop it:\n%s", stderr)
	}
	// --plain-http-host naming the TLS registry: it answers 400, and the
	// plain one is asked in HTTPS.
	create("--plain-http-host of the TLS registry", ExitInput, "--output", filepath.Join(work, "none"), "--plain-http-host", r.tlsHost)
	if _, err := os.Stat(filepath.Join(work, "none")); !os.IsNotExist(err) {
		t.Errorf("a failed create left %s (%v)", filepath.Join(work, "none"), err)
	}

	out := filepath.Join(work, "bundle")
	create("--plain-http-host", 0, "--output", out, "--plain-http-host", r.plainHost)
	for _, img := range r.plainRel.Images[:2] {
		sameBlobs(t, out, r.plainClient, r.plainRel, img)
	}
	for _, img := range r.tlsRel.Images[2:] {
		sameBlobs(t, out, r.tlsClient, r.tlsRel, img)
	}
	if n := r.plainTLSAuth.Load(); n != 0 {
		t.Errorf("%d requests with credentials reached the TLS registry outside TLS", n)
	}

	// The bundle, signed, pushed to the plain registry, is the base of a
	// delta of the TLS registry's release.
	signed, pub := signBundle(t, out)
	push := []string{"mirror", "push", signed, r.plainHost + "/stellaops/mirror-bundle:2025.10.0", "--plain-http-host", r.plainHost, "--registry-config", r.config, "--quiet"}
	if code, stdout, stderr := run(t, push...); code != 0 {
		t.Fatalf("push to the plain registry: exit %d\n%s%s", code, stdout, stderr)
	}
	var tlsRefs []string
	for _, img := range r.tlsRel.Images {
		tlsRefs = append(tlsRefs, r.tlsRel.Ref(img))
	}
	images = releaseList(t, tlsRefs...)
	base := []string{"--base", r.plainHost + "/stellaops/mirror-bundle:2025.10.0", "--base-key", pub, "--release-version", "2025.11.0"}
	if stderr := create("--base without --plain-http-host", ExitInput, append([]string{"--output", filepath.Join(work, "none")}, base...)...); !strings.Contains(stderr, "--plain-http-host "+r.plainHost) {
		t.Errorf("create --base of a plain registry without --plain-http-host does not name it:\n%s", stderr)
	}
	delta := filepath.Join(work, "delta")
	create("--base of the plain registry", 0, append([]string{"--output", delta, "--plain-http-host", r.plainHost, "--format", "json"}, base...)...)
	manifest, err := os.ReadFile(filepath.Join(delta, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), `"base"`) {
		t.Errorf("the delta's manifest.json names no base:\n%s", manifest)
	}
	for _, img := range r.tlsRel.Images {
		// The manifests are carried, the base's blobs omitted.
		if _, err := os.Stat(filepath.Join(delta, "blobs", "sha256", img.Descriptor.Digest.Encoded())); err != nil {
			t.Errorf("the delta lacks the manifest of %s: %v", r.tlsRel.Ref(img), err)
		}
	}
}

// TestDoctorPlainHTTPHost: doctor --registry HOST --plain-http-host HOST
// asks HOST in plain HTTP, and a registry with TLS beside it in HTTPS, its
// certificate verified; it asked every registry in HTTPS.
func TestDoctorPlainHTTPHost(t *testing.T) {
	r := startPlainAndTLS(t)
	for _, tt := range []struct{ host, tls string }{
		{r.plainHost, "skip"},
		{r.tlsHost, "warn"}, // verified; the test CA's certificate lasts a day
	} {
		code, stdout, stderr := run(t, "mirror", "doctor", "--registry", tt.host, "--plain-http-host", r.plainHost, "--ca-file", r.caFile,
			"--registry-config", r.config, "--retries", "0", "--format", "json")
		var res struct {
			Checks []struct{ Name, Status, Detail string }
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("doctor %s: exit %d, %v\n%s%s", tt.host, code, err, stdout, stderr)
		}
		for _, c := range res.Checks {
			if c.Name == "reachable" && c.Status != "pass" || c.Name == "tls" && c.Status != tt.tls {
				t.Errorf("doctor %s: %s %s: %s (want tls %s)", tt.host, c.Name, c.Status, c.Detail, tt.tls)
			}
		}
	}
}

// TestPlainHTTPHostCredentialsOnlyToNamed: two registries without TLS, the
// docker config holding credentials for both, one named with
// --plain-http-host: the other is asked in HTTPS, and fails, its
// credentials never sent (in plain HTTP or at all).
func TestPlainHTTPHostCredentialsOnlyToNamed(t *testing.T) {
	var seen atomic.Int64
	named := testutil.RegistryWrapped(t, basicAuth("a", "a-s3cret", nil))
	other := testutil.RegistryWrapped(t, basicAuth("b", "b-s3cret", func(r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			seen.Add(1)
		}
	}))
	cfg := filepath.Join(t.TempDir(), "config.json")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`, named, b64("a:a-s3cret"), other, b64("b:b-s3cret"))), 0o600)
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for i, host := range []string{named, other} {
		rel, err := sample.Push(context.Background(), sample.Spec{Registry: host, Seed: uint64(i)}, func(repo string) (sample.Pusher, error) {
			return client.Repository(host + "/" + repo)
		})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, rel.Ref(rel.Images[i]))
	}
	seen.Store(0) // the pushes above sent them, in plain HTTP as asked
	code, stdout, stderr := run(t, "mirror", "create", "--images", releaseList(t, refs...), "--release-version", "1.0",
		"--output", filepath.Join(t.TempDir(), "b"), "--plain-http-host", named, "--registry-config", cfg, "--retries", "0")
	if code != ExitInput || !strings.Contains(stderr, "--plain-http-host "+other) {
		t.Errorf("exit %d, want %d naming --plain-http-host %s\n%s%s", code, ExitInput, other, stdout, stderr)
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the registry not named got %d requests with credentials", n)
	}
}

// TestPlainHTTPHostRefusesBadValues: --plain-http-host takes one
// HOST[:PORT] as a reference names its registry. A URL, credentials (shown
// blanked), a path, a list or a bad port is refused, exit 1, on one line,
// before anything is read or sent.
func TestPlainHTTPHostRefusesBadValues(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tt := range []struct{ value, want string }{
		{"http://10.0.0.5:5000", `--plain-http-host "http://10.0.0.5:5000": want HOST[:PORT], no scheme (the flag says plain HTTP)`},
		{"mirror:hunter2@10.0.0.5:5000", `--plain-http-host "***@10.0.0.5:5000": want HOST[:PORT], no credentials`},
		{"http://mirror:hunter2@10.0.0.5:5000", `--plain-http-host "http://***@10.0.0.5:5000": want HOST[:PORT], no credentials`},
		{"ghp_hunter2@registry", `--plain-http-host "***@registry": want HOST[:PORT], no credentials`},
		{"10.0.0.5:5000/stellaops", `--plain-http-host "10.0.0.5:5000/stellaops": want HOST[:PORT], no path`},
		{"a:5000,b:5000", `--plain-http-host "a:5000,b:5000": want one HOST[:PORT] (repeat --plain-http-host for each registry)`},
		{"10.0.0.5:http", `--plain-http-host "10.0.0.5:http": want HOST[:PORT], as a reference names its registry`},
		{"10.0.0.5 :5000", `--plain-http-host "10.0.0.5 :5000": want HOST[:PORT], as a reference names its registry`},
		// Names no reference can hold: each matched nothing, so the flag did
		// nothing and the registry meant was asked in HTTPS.
		{"::1", `--plain-http-host "::1": want HOST[:PORT], as a reference names its registry`},
		{":5000", `--plain-http-host ":5000": want HOST[:PORT], as a reference names its registry`},
		{"registry.internal:", `--plain-http-host "registry.internal:": want HOST[:PORT], as a reference names its registry`},
		{"registry.internal:99999", `--plain-http-host "registry.internal:99999": want HOST[:PORT], as a reference names its registry`},
		{"registry..internal", `--plain-http-host "registry..internal": want HOST[:PORT], as a reference names its registry`},
	} {
		for _, format := range []string{"text", "json"} {
			args := []string{"mirror", "create", "--images", "r.yaml", "--output", "b", "--plain-http-host", "127.0.0.1:5000", "--plain-http-host", tt.value, "--format", format}
			code, stdout, stderr := run(t, args...)
			said := stderr
			if format == "json" {
				var doc struct{ Error string }
				if err := json.Unmarshal([]byte(stdout), &doc); err != nil || stderr != "" {
					t.Errorf("%q: stdout %q, stderr %q: want one JSON document (%v)", tt.value, stdout, stderr, err)
				}
				said = doc.Error
			}
			if code != ExitInput || strings.Contains(stdout+stderr, "hunter2") || !strings.Contains(said, tt.want) {
				t.Errorf("%q (%s): exit %d, stdout %q, stderr %q; want exit %d saying %q", tt.value, format, code, stdout, stderr, ExitInput, tt.want)
			}
			if format == "text" && strings.Count(stderr, "\n") != 1 {
				t.Errorf("%q: stderr %q, want one line", tt.value, stderr)
			}
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("wrote %s", entries[0].Name())
	}
}

// TestPlainHTTPHostTakesRegistryNames: every way a reference names its
// registry is a --plain-http-host. A fully qualified name ending in a dot
// ("registry.corp.example.", which a reference takes, and DNS answers
// without the search list) was refused as malformed, though --plain-http
// reached it, and the hint of its "HTTP response to HTTPS client" named
// it so (found by review).
func TestPlainHTTPHostTakesRegistryNames(t *testing.T) {
	for _, host := range []string{"registry.internal", "10.0.0.5:5000", "[::1]:5000", "[::1]", "localhost:5000", "Registry.Internal:443", "mirror-1.example.com:65535",
		"registry.corp.example.", "registry.corp.example.:5000"} {
		if _, err := registry.ParseReference(host + "/stellaops/authority:2025.10.0"); err != nil {
			t.Fatalf("%q: no reference names it (%v): not a row of this test", host, err)
		}
		if err := mirror.CheckPlainHTTPHost(host); err != nil {
			t.Errorf("%q: %v, want it taken", host, err)
		}
	}
}
