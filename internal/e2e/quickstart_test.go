package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// quickstartMarker precedes the README's quickstart block.
const quickstartMarker = "<!-- quickstart:"

// quickstartBlock returns the ```sh block that follows the marker.
func quickstartBlock(t *testing.T, readme string) string {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), quickstartMarker)
	if !ok {
		t.Fatalf("README.md has no %s marker before the quickstart", quickstartMarker)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, closed := strings.Cut(rest, "\n```\n")
	if !ok || !closed {
		t.Fatal("README.md: no ```sh block after the quickstart marker")
	}
	return block
}

// freeAddr is a port for a registry the script starts: one no other test
// can take meanwhile (testutil.FreeAddr).
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestREADMEQuickstart runs the README's quickstart, every command as
// written, from the repository root, with only the two registry ports
// moved to free ones. It fails when any command in it breaks.
func TestREADMEQuickstart(t *testing.T) {
	bash := tool(t, "bash")
	tool(t, "make")
	root := testutil.ModuleRoot(t)
	block := quickstartBlock(t, filepath.Join(root, "README.md"))
	script := strings.NewReplacer("127.0.0.1:5000", freeAddr(t), "127.0.0.1:5001", freeAddr(t)).Replace(block)
	if script == block {
		t.Fatal("the quickstart no longer names 127.0.0.1:5000 and 127.0.0.1:5001; update this test")
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(root, "quickstart")) })
	// Whatever happens, the registries the script started are stopped. The
	// trap must not fail itself: under -e a kill of a registry that the
	// script's own last line already stopped and bash already reaped made
	// the whole run exit 1 after every command passed (1 run in 5 to 50).
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", "trap 'set +e; kill $(jobs -p) 2>/dev/null; wait' EXIT\n"+script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The registries' own logs say why one did not start or answer.
		var logs strings.Builder
		for _, name := range []string{"connected.log", "airgap.log"} {
			data, _ := os.ReadFile(filepath.Join(root, "quickstart", name))
			fmt.Fprintf(&logs, "--- %s:\n%s\n", name, data)
		}
		t.Fatalf("the README quickstart failed: %v\n%s\n%s", err, out, logs.String())
	}
	for _, want := range []string{"Created bundle", "Verified bundle/manifest.dsse", "Usable: yes", "Imported 2025.10.0", "Pulled 2025.10.0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("quickstart output lacks %q:\n%s", want, out)
		}
	}
}
