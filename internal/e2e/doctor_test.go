package e2e

import (
	"encoding/json"
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
