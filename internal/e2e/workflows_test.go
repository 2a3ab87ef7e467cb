package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestWorkflowsLint runs actionlint (make tools installs it) on the CI
// workflows.
func TestWorkflowsLint(t *testing.T) {
	actionlint := tool(t, "actionlint")
	files, _ := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), ".gitea", "workflows", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("workflows: %v", files)
	}
	out, err := exec.Command(actionlint, append([]string{"-color=false"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// workflow is the part of a workflow file that the local run needs.
type workflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestWorkflowsRunLocally runs both workflows' steps, as a runner would,
// against a sample release in a TLS registry (trusted through
// SSL_CERT_FILE, so the create step runs as written): Mirror Bundle from a
// tag with the dev key as its secret, then Mirror Verify on what it
// uploaded. Actions are stood in for: checkout copies the files the steps
// read, build puts the test's binary on PATH, upload and download copy the
// artifact.
func TestWorkflowsRunLocally(t *testing.T) {
	root := testutil.ModuleRoot(t)
	bash := tool(t, "bash")
	const tag = "v2025.10.0-airgap"
	dir := t.TempDir()
	ca := testutil.NewRootCA(t, "Workflow registry CA")
	cert, key := ca.ServerCert(t, dir)
	caFile := testutil.WritePEM(t, dir, "ca.pem", ca.Cert)
	host := testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: cert, TLSKey: key})
	client, err := remote.New(remote.Options{CAFile: caFile, ConfigFile: filepath.Join(dir, "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := sample.Push(context.Background(), sample.Spec{Registry: host}, func(repo string) (sample.Pusher, error) {
		return client.Repository(host + "/" + repo)
	})
	if err != nil {
		t.Fatal(err)
	}
	releaseYAML := rel.ReleaseYAML()
	devKey, err := os.ReadFile(filepath.Join(root, "tools", "cosign", "cosign.dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	expressions := map[string]string{
		"${{ inputs.release || github.ref_name }}": tag,
		"${{ secrets.COSIGN_PRIVATE_KEY_B64 }}":    base64.StdEncoding.EncodeToString(devKey),
		"${{ secrets.COSIGN_PASSWORD }}":           "stellaops-dev",
	}
	artifact := t.TempDir()
	checkout := func(ws string) {
		copyFile(t, filepath.Join(root, "tools", "cosign", "cosign.pub"), filepath.Join(ws, "tools", "cosign", "cosign.pub"))
		os.MkdirAll(filepath.Join(ws, "deploy", "releases"), 0o755)
		os.WriteFile(filepath.Join(ws, "deploy", "releases", tag+".yaml"), releaseYAML, 0o644)
	}
	for _, name := range []string{"mirror-bundle.yml", "mirror-verify.yml"} {
		data, err := os.ReadFile(filepath.Join(root, ".gitea", "workflows", name))
		if err != nil {
			t.Fatal(err)
		}
		var wf workflow
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ws := t.TempDir()
		env := append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "SSL_CERT_FILE="+caFile,
			"GITHUB_PATH="+filepath.Join(t.TempDir(), "path"), "PATH="+filepath.Join(ws, "bin")+":"+os.Getenv("PATH"))
		for _, job := range wf.Jobs {
			for k, v := range job.Env {
				env = append(env, k+"="+expand(t, v, expressions))
			}
			for _, step := range job.Steps {
				switch {
				case strings.HasPrefix(step.Uses, "actions/checkout@"):
					checkout(ws)
				case strings.HasPrefix(step.Uses, "actions/setup-go@"):
				case strings.HasPrefix(step.Uses, "actions/upload-artifact@"):
					for _, pattern := range strings.Fields(step.With["path"]) {
						matches, _ := filepath.Glob(filepath.Join(ws, pattern))
						for _, m := range matches {
							copyFile(t, m, filepath.Join(artifact, filepath.Base(m)))
						}
					}
				case strings.HasPrefix(step.Uses, "actions/download-artifact@"):
					entries, _ := os.ReadDir(artifact)
					for _, e := range entries {
						copyFile(t, filepath.Join(artifact, e.Name()), filepath.Join(ws, e.Name()))
					}
				case step.Uses != "":
					t.Fatalf("%s: step %q uses %s, which this test cannot stand in for", name, step.Name, step.Uses)
				case strings.Contains(step.Run, "go build") || strings.Contains(step.Run, "make build"):
					copyFile(t, stellaBin, filepath.Join(ws, "bin", "stella"))
				default:
					cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", expand(t, step.Run, expressions))
					cmd.Dir, cmd.Env = ws, env
					for k, v := range step.Env {
						cmd.Env = append(cmd.Env, k+"="+expand(t, v, expressions))
					}
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s: step %q: %v\n%s", name, step.Name, err, out)
					}
				}
			}
		}
	}
	for _, want := range []string{"stellaops-airgap-" + tag + ".tar.gz", "stellaops-airgap-" + tag + ".tar.gz.sha256", "stella", "stella.sha256"} {
		if _, err := os.Stat(filepath.Join(artifact, want)); err != nil {
			t.Errorf("Mirror Bundle did not upload %s", want)
		}
	}
}

// expand replaces the ${{ }} expressions a workflow uses; any other is a
// test failure, so a new expression is noticed here first.
func expand(t *testing.T, s string, expressions map[string]string) string {
	t.Helper()
	for expr, v := range expressions {
		s = strings.ReplaceAll(s, expr, v)
	}
	if m := regexp.MustCompile(`\$\{\{[^}]*\}\}`).FindString(s); m != "" {
		t.Fatalf("workflow expression %s: the local run has no value for it", m)
	}
	return s
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(from)
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, data, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}
