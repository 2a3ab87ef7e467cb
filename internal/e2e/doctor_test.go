package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestDoctorCLI runs `stella mirror doctor` against a distribution registry
// that requires basic auth: without credentials it reports the auth
// failure and exits 1 (as one JSON document with error and exitCode, or as
// the text report with the error on stderr); with them, from
// --registry-config, it is usable. The password is never printed, even
// with --verbose.
func TestDoctorCLI(t *testing.T) {
	const password = "doctor-e2e-s3cret"
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", password)})

	r := stella(t, nil, "mirror", "doctor", "--registry", host, "--plain-http", "--format", "json")
	var report struct {
		Usable   *bool `json:"usable"`
		Checks   []struct{ Name, Status, Detail string }
		Error    string `json:"error"`
		ExitCode int    `json:"exitCode"`
	}
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("no credentials, JSON: exit %d, stderr %q", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&report); err != nil || dec.More() {
		t.Fatalf("not one JSON document (%v):\n%s", err, r.stdout)
	}
	last := report.Checks[len(report.Checks)-1]
	if report.Usable == nil || *report.Usable || report.ExitCode != 1 || !strings.Contains(report.Error, "auth") ||
		last.Name != "auth" || last.Status != "fail" || !strings.Contains(last.Detail, "stella mirror login") {
		t.Errorf("no credentials: %s", r.stdout)
	}

	r = stella(t, nil, "mirror", "doctor", "--registry", host, "--plain-http")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  auth") || !strings.Contains(r.stdout, "Usable: no") ||
		!strings.HasPrefix(r.stderr, "stella: registry "+host+" is not usable: auth: ") {
		t.Errorf("no credentials, text: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	cfg := testutil.DockerConfig(t, host, "mirror", password)
	r = stella(t, nil, "mirror", "doctor", "--registry", host, "--plain-http", "--registry-config", cfg, "--verbose")
	if r.code != 0 || !strings.Contains(r.stdout, "Usable: yes") || !strings.Contains(r.stdout, "fallback tag (sha256-<hex>)") ||
		!strings.Contains(r.stdout, "PASS  chunked-upload") || !strings.Contains(r.stdout, "Uploads: chunked\n") {
		t.Errorf("with credentials: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Error("the password was printed")
	}
}

// TestDoctorLoginHintRuns follows the doctor's advice for a registry it
// has no credentials for as an operator would: the login command in the
// auth check, pasted with the user name put in and the password on stdin,
// saves credentials where the doctor's next run, with the same flags,
// finds them. The advice was `stella mirror login HOST`, which login
// refuses (no -u) and which, given -u, saved them in docker's own
// config.json rather than the --registry-config the doctor read, over
// HTTPS to a registry without TLS.
func TestDoctorLoginHintRuns(t *testing.T) {
	const password = "doctor-hint-s3cret"
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", password)})
	cfg := filepath.Join(t.TempDir(), "site config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"mirror", "doctor", "--registry", host, "--plain-http", "--registry-config", cfg, "--format", "json"}
	r := stella(t, nil, args...)
	var report struct {
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != 1 || len(report.Checks) == 0 {
		t.Fatalf("no credentials: exit %d (%v)\n%s", r.code, err, r.stdout)
	}
	auth := report.Checks[len(report.Checks)-1]
	_, rest, _ := strings.Cut(auth.Detail, "`")
	advice, _, ok := strings.Cut(rest, "`")
	if auth.Name != "auth" || !ok || !strings.HasPrefix(advice, "stella mirror login ") {
		t.Fatalf("auth check gives no login command: %+v", auth)
	}
	line := strings.Replace(strings.Replace(advice, "stella", "\"$STELLA\"", 1), "USER", "mirror", 1)
	login := exec.Command("sh", "-c", line)
	login.Env = append(os.Environ(), "STELLA="+stellaBin, "DOCKER_CONFIG="+t.TempDir())
	login.Stdin = strings.NewReader(password + "\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("the advised %s: %v\n%s", advice, err, out)
	}
	if r = stella(t, nil, args...); r.code != 0 || strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("after the advised login: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
