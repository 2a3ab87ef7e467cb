package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/bundle"
)

// TestTroubleshootStatesImageLimit: TROUBLESHOOT.md gives the number of
// images one bundle holds, which is computed (bundle.MaxImages): the two
// must not drift apart again, as the 10,000 it once gave did from what
// manifest.json holds.
func TestTroubleshootStatesImageLimit(t *testing.T) {
	data, err := os.ReadFile(repoFile("docs/TROUBLESHOOT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("one bundle holds at most %d images", bundle.MaxImages),
		fmt.Sprintf("over the %d one bundle may hold", bundle.MaxImages),
		fmt.Sprintf("up to %d, still import", bundle.MaxReadImages),
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("docs/TROUBLESHOOT.md does not say %q", want)
		}
	}
}
