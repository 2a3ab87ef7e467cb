package cli

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestWorkflowCommandsParse: every stella command line in the CI
// workflows is one the CLI accepts, and each workflow runs the commands of
// plan §3 (the local run of the workflows is in internal/e2e).
func TestWorkflowCommandsParse(t *testing.T) {
	want := map[string][]string{
		"mirror-bundle.yml": {"create", "sign", "verify", "verify-checksums", "pack"},
		"mirror-verify.yml": {"verify", "verify-checksums"},
	}
	for file, commands := range want {
		data, err := os.ReadFile(repoFile(".gitea/workflows/" + file))
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Run string `yaml:"run"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var used []string
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				for _, l := range stellaLines(step.Run) {
					if err := parseCommandLine(l); err != nil {
						t.Errorf("%s: %q: %v", file, l, err)
					}
					if f := strings.Fields(l); len(f) > 2 {
						used = append(used, f[2])
					}
				}
			}
		}
		for _, c := range commands {
			if !slices.Contains(used, c) {
				t.Errorf("%s does not run stella mirror %s (it runs %v)", file, c, used)
			}
		}
	}
}
