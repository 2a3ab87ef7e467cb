// Package e2e runs the stella binary end to end against the CNCF
// distribution registry on 127.0.0.1, and checks the results with other
// OCI tools (oras, skopeo) where they are installed.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// stellaBin is the binary built once for the package's tests.
var stellaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stella-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stellaBin = filepath.Join(dir, "stella")
	build := exec.Command("go", "build", "-o", stellaBin, "github.com/stellaops/mirror/cmd/stella")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stella:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// stella runs the binary with args, a clean docker config and extra env.
func stella(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runStella(t, env, stellaBin, args...)
}

// runStella runs name (the binary, or a wrapper that execs it) with args,
// a clean docker config and extra env.
func runStella(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte("{}"), 0o600)
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+cfg), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustStella runs the binary and fails the test unless it exits 0.
func mustStella(t *testing.T, args ...string) result {
	t.Helper()
	r := stella(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("stella %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// tool finds an external tool on PATH; it skips the test when missing,
// unless STELLA_E2E=1, where it fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("STELLA_E2E") == "1" {
		t.Fatalf("%s not found on PATH (run .ci/run or make tools)", name)
	}
	t.Skipf("%s not found on PATH", name)
	return ""
}

// run runs an external command and returns its stdout, failing the test on
// a non-zero exit.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

var _ = testutil.ModuleRoot
