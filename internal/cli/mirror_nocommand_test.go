package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMirrorWithoutCommandJSON: `stella mirror --format json` with no
// command printed the help text on stdout, exit 0, where a script asked
// for one JSON document: it read text as its result, or failed to parse
// it with no error to report. It is a usage error, in JSON; without
// --format json, `stella mirror` still shows its help (found by review).
func TestMirrorWithoutCommandJSON(t *testing.T) {
	code, stdout, _ := run(t, "mirror", "--format", "json")
	var res struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exitCode"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitInput || res.ExitCode != ExitInput || !strings.Contains(res.Error, "stella mirror --help") {
		t.Errorf("stella mirror --format json: exit %d (%v)\n%s", code, err, stdout)
	}
	if code, stdout, _ := run(t, "mirror"); code != 0 || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("stella mirror: exit %d\n%s", code, stdout)
	}
}
