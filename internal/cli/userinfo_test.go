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

// A password written into a reference or --registry (user:password@HOST,
// https://user:password@HOST/…) is refused before anything is sent, and
// the refusal does not repeat it: it used to be echoed in the error
// ("invalid registry \"user:…@host\""), in doctor's report, and doctor sent
// it to the registry as Basic auth. A password holding a / (a token's
// base64) is one too: taken for the start of the path, it was echoed whole
// ("--registry \"user:hunt/er2@HOST\": want HOST[:PORT], no path").
func TestPasswordInReferenceRefused(t *testing.T) {
	for name, secret := range map[string]string{"plain": "hunter2-never-shown", "slash": "hunt/er2+never/shown"} {
		t.Run(name, func(t *testing.T) { testPasswordInReferenceRefused(t, secret) })
	}
}

func testPasswordInReferenceRefused(t *testing.T, secret string) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	reg := []string{"--plain-http", "--registry-config", cfg}
	for _, args := range [][]string{
		{"mirror", "inspect", "user:" + secret + "@" + host + "/a/b:1"},
		{"mirror", "inspect", "https://user:" + secret + "@" + host + "/a/b:1", "--format", "json"},
		{"mirror", "pull", "user:" + secret + "@" + host + "/a/b:1", filepath.Join(dir, "out"), "--format", "json"},
		{"mirror", "sync", host + "/a/b:1", "user:" + secret + "@" + host + "/c/d"},
		{"mirror", "doctor", "--registry", "user:" + secret + "@" + host},
		{"mirror", "doctor", "--registry=user:" + secret + "@" + host, "--format", "json"},
		{"mirror", "import", filepath.Join(dir, "bundle.tar"), "--registry", "user:" + secret + "@" + host, "--key", filepath.Join(dir, "k.pub")},
		{"mirror", "login", "user:" + secret + "@" + host, "-u", "user", "--password-stdin"},
	} {
		args = append(args, reg...)
		code, stdout, stderr := run(t, args...)
		if code != ExitInput {
			t.Errorf("stella %s: exit %d, want %d", strings.Join(args, " "), code, ExitInput)
		}
		if out := stdout + stderr; strings.Contains(out, secret) || !strings.Contains(out, "login") {
			t.Errorf("stella %s: want a refusal pointing at login, without the password:\n%s", strings.Join(args, " "), out)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry got %d requests", n)
	}
	// A digest reference without a host has an @ too; it is not refused
	// as holding a password.
	if holdsPassword("busybox:1.36@sha256:" + strings.Repeat("a", 64)) {
		t.Error("a name:tag@digest reference taken for user:password@host")
	}
}

// TestPathWithColonAndAtNotPassword: a directory not made yet whose path
// has a : before an @ (pull SRC /backups/2025-12-03T08:00/bundle@site-a)
// was refused as USER:PASSWORD@HOST once a password could hold a /, the
// path printed with a part blanked: a user name holds no / (found by
// review).
func TestPathWithColonAndAtNotPassword(t *testing.T) {
	for _, arg := range []string{
		"/backups/2025-12-03T08:00/bundle@site-a",
		"./08:00/bundle@site-a",
		"nightly/08:00/bundle@site-a",
	} {
		if holdsPassword(arg) {
			t.Errorf("%s: taken for USER:PASSWORD@HOST", arg)
		}
	}
	for _, arg := range []string{"user:hunt/er2@registry.internal:5000", "user:hunt/er2@registry.internal/a/b:1", "https://u:p/q@h/a"} {
		if !holdsPassword(arg) {
			t.Errorf("%s: not taken for USER:PASSWORD@HOST", arg)
		}
	}
}

// TestRelativePathInExistingDirNotPassword: a path given relative whose
// first part holds a : (pull SRC 08:00/bundle@site-a, in a directory
// holding 08:00) was refused as USER:PASSWORD@HOST, printed as
// "08:***@site-a": a path whose directory exists is a path; a reference
// with a password is still refused, the password blanked (found by review).
func TestRelativePathInExistingDirNotPassword(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("08:00", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if holdsPassword("08:00/bundle@site-a") {
		t.Error("08:00/bundle@site-a, 08:00 a directory: taken for USER:PASSWORD@HOST")
	}
	code, stdout, stderr := run(t, "mirror", "pull", "127.0.0.1:1/a/b:1", "08:00/bundle@site-a", "--registry-config", cfg)
	if out := stdout + stderr; strings.Contains(out, "holds no password") || strings.Contains(out, "***") {
		t.Errorf("pull into 08:00/bundle@site-a: exit %d, refused as a password:\n%s", code, out)
	}
	for _, arg := range []string{"user:hunt/er2@registry.internal:5000", "09:00/bundle@site-a"} {
		if !holdsPassword(arg) {
			t.Errorf("%s: not taken for USER:PASSWORD@HOST", arg)
		}
	}
}

// TestPasswordInBaseRefused: create --base takes a registry reference too;
// one with a password (USER:PASSWORD@HOST/REPO:TAG) was echoed whole in
// the error ("--base user:hunter2@HOST/…: a base bundle is read only with
// --base-key"), as only the arguments and --registry were checked. It is
// refused as they are, the password blanked (found by review).
func TestPasswordInBaseRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(dir, "release.txt")
	if err := os.WriteFile(release, []byte("registry.example/a/b@sha256:"+strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-never-shown"
	for _, base := range []string{"user:" + secret + "@127.0.0.1:1/a/b:1", "user:" + secret + "/x@127.0.0.1:1/a/b:1"} {
		args := []string{"mirror", "create", "--images", release, "--release-version", "1.0", "--output", filepath.Join(dir, "out"), "--base", base, "--registry-config", cfg}
		code, stdout, stderr := run(t, args...)
		if out := stdout + stderr; code != ExitInput || strings.Contains(out, secret) || !strings.Contains(out, "login") {
			t.Errorf("create --base %s: exit %d, want %d and a refusal pointing at login, without the password:\n%s", base, code, ExitInput, out)
		}
	}
}

// TestPasswordRefusalNamesPathWayOut: a path not made yet whose first part
// holds a : before an @ (08:00/bundle@site-a, no 08:00 beside it) reads
// as USER:PASSWORD@HOST and is refused; the refusal said only to log in,
// leaving the user of a path no way out. It says ./ before it names a
// path (found by review).
func TestPasswordRefusalNamesPathWayOut(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "mirror", "pull", "127.0.0.1:1/a/b:1", "08:00/bundle@site-a", "--registry-config", cfg)
	if code != ExitInput || !strings.Contains(stderr, "login") || !strings.Contains(stderr, "./") || strings.Contains(stderr, "08:00") {
		t.Errorf("exit %d, %q; want a refusal naming login and ./ for a path, the part after the : blanked", code, stderr)
	}
}

// TestMistypedDigestNotPassword: a registry reference whose digest is
// mistyped (cut short) after a HOST:PORT (127.0.0.1:5000/a/b@sha256:abc)
// was refused as USER:PASSWORD@HOST, "127.0.0.1:***@sha256:abc: a
// reference holds no password: save the credentials with stella mirror
// login": the port blanked, and login advised for a typo. An @ followed by
// a digest's algorithm is a digest's, well-formed or not; the reference
// fails naming its digest. One with credentials before its host still is
// refused, the password blanked (found by review).
func TestMistypedDigestNotPassword(t *testing.T) {
	for _, ref := range []string{"127.0.0.1:5000/a/b@sha256:abc", "registry.internal:5000/a/b:1@sha256:", "localhost:5000/a@sha512:00"} {
		if holdsPassword(ref) {
			t.Errorf("%s taken for USER:PASSWORD@HOST", ref)
		}
	}
	code, stdout, stderr := run(t, "mirror", "inspect", "127.0.0.1:5000/a/b@sha256:abc", "--plain-http")
	if code != ExitInput || strings.Contains(stderr, "password") || strings.Contains(stderr, "***") || !strings.Contains(stderr, "127.0.0.1:5000/a/b@sha256:abc") {
		t.Errorf("inspect of a reference with a mistyped digest: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	const secret = "hunter2-never-shown"
	code, _, stderr = run(t, "mirror", "inspect", "user:"+secret+"@127.0.0.1:5000/a/b@sha256:abc", "--plain-http")
	if code != ExitInput || strings.Contains(stderr, secret) || !strings.Contains(stderr, "login") {
		t.Errorf("a reference with credentials and a mistyped digest: exit %d, %s", code, stderr)
	}
}

// TestPasswordBeforeHostNamedSha256: user:PASSWORD@sha256:5000/a/b:1 (a
// host named sha256) was not refused, the text after the @ up to the first
// / read as a mistyped digest, and the password was printed by the error
// that followed: a digest holds no / (found by review).
func TestPasswordBeforeHostNamedSha256(t *testing.T) {
	const secret = "hunter2-never-shown"
	arg := "user:" + secret + "@sha256:5000/a/b:1"
	if !holdsPassword(arg) {
		t.Errorf("%s: not taken for USER:PASSWORD@HOST", arg)
	}
	code, stdout, stderr := run(t, "mirror", "pull", arg, filepath.Join(t.TempDir(), "b"))
	if out := stdout + stderr; code != ExitInput || strings.Contains(out, secret) {
		t.Errorf("pull %s: exit %d, want %d without the password:\n%s", arg, code, ExitInput, out)
	}
}

// TestTagAfterAtOfHostWithPortNotPassword: a tag typed where the digest
// goes of a reference whose host has a port (127.0.0.1:5000/a/b@1.36,
// localhost:5000/x@latest) was refused as holding a password, the port and
// repository blanked ("127.0.0.1:***@1.36: a reference holds no password",
// login advised): HOST:PORT/REPO read as USER:PASSWORD. It is refused as a
// tag after the @, naming the reference (found by review).
func TestTagAfterAtOfHostWithPortNotPassword(t *testing.T) {
	for _, ref := range []string{"127.0.0.1:5000/a/b@1.36", "localhost:5000/x@latest"} {
		code, stdout, stderr := run(t, "mirror", "pull", ref, filepath.Join(t.TempDir(), "b"))
		if out := stdout + stderr; code != ExitInput || strings.Contains(out, "***") || strings.Contains(out, "password") || !strings.Contains(out, ref) || !strings.Contains(out, "is a tag") {
			t.Errorf("pull %s: exit %d, want %d refusing a tag after the @, naming the reference:\n%s", ref, code, ExitInput, out)
		}
	}
}
