package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// schemaKey is one documented key of a command's JSON.
type schemaKey struct {
	typ      string
	optional bool
}

// jsonSchemas reads docs/json.md: for each command path (and "error"), its
// documented keys.
func jsonSchemas(t *testing.T) map[string]map[string]schemaKey {
	t.Helper()
	data, err := os.ReadFile(repoFile("docs/json.md"))
	if err != nil {
		t.Fatal(err)
	}
	ticks := regexp.MustCompile("`([^`]+)`")
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\|")
	out := map[string]map[string]schemaKey{}
	var current []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			current = nil
			if line == "## Errors" {
				current = []string{"error"}
			}
			for _, m := range ticks.FindAllStringSubmatch(line, -1) {
				name := m[1]
				if !strings.HasPrefix(name, "stella ") {
					name = "stella mirror " + name
				}
				current = append(current, name)
			}
			for _, c := range current {
				out[c] = map[string]schemaKey{}
			}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil {
			typ := strings.TrimSpace(m[2])
			k := schemaKey{typ: strings.TrimSuffix(typ, ", optional"), optional: strings.HasSuffix(typ, ", optional")}
			for _, c := range current {
				out[c][m[1]] = k
			}
		}
	}
	return out
}

// checkSchema fails unless doc is one JSON document whose keys, at every
// level, are documented with their type, and every key documented as
// always present is there.
func checkSchema(t *testing.T, name string, stdout string, schema map[string]schemaKey) {
	t.Helper()
	if len(schema) == 0 {
		t.Errorf("%s: no schema in docs/json.md", name)
		return
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Errorf("%s: stdout is not a JSON object: %v\n%s", name, err, stdout)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("%s: stdout holds more than one JSON document:\n%s", name, stdout)
	}
	seen, containers := map[string]bool{}, map[string]bool{"": true}
	var walk func(prefix string, obj map[string]any)
	walk = func(prefix string, obj map[string]any) {
		for k, v := range obj {
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			seen[path] = true
			want, ok := schema[path]
			if !ok {
				t.Errorf("%s: key %s is not in docs/json.md", name, path)
				continue
			}
			if got := jsonType(v); !typeMatches(want.typ, got) && !(got == "null" && (want.optional || want.typ == "array")) {
				t.Errorf("%s: key %s is %s, docs/json.md says %s", name, path, got, want.typ)
			}
			if want.typ == "descriptor" || want.typ == "manifest.json" {
				continue // defined elsewhere
			}
			switch v := v.(type) {
			case map[string]any:
				containers[path] = true
				walk(path, v)
			case []any:
				for _, el := range v {
					if o, ok := el.(map[string]any); ok {
						containers[path+"[]"] = true
						walk(path+"[]", o)
					}
				}
			}
		}
	}
	walk("", doc)
	for path, k := range schema {
		parent := ""
		if i := strings.LastIndex(path, "."); i >= 0 {
			parent = path[:i]
		}
		if !k.optional && containers[parent] && !seen[path] {
			t.Errorf("%s: documented key %s is missing", name, path)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "object"
}

func typeMatches(documented, got string) bool {
	if documented == "descriptor" || documented == "manifest.json" {
		return got == "object"
	}
	return documented == got
}

// TestJSONOutput runs every command that has a result with --format json,
// in the order an operator would, and holds each output to docs/json.md:
// one document on stdout, nothing on stderr, every key documented.
func TestJSONOutput(t *testing.T) {
	schemas := jsonSchemas(t)
	work := t.TempDir()
	source, airgap, other := testutil.Registry(t), testutil.Registry(t), testutil.Registry(t)
	rel, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	cfg := filepath.Join(work, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	t.Setenv("DOCKER_CONFIG", work)
	t.Setenv("COSIGN_PASSWORD", "json-test")
	dir, key := filepath.Join(work, "bundle"), filepath.Join(work, "cosign")
	archive := filepath.Join(work, "bundle.tar.zst")
	bundleRef := other + "/stellaops/mirror-bundle:" + rel.Spec.Version
	steps := []struct {
		command string
		args    []string
	}{
		{"stella version", []string{"version"}},
		{"stella mirror keygen", []string{"mirror", "keygen", "--output-key-prefix", key}},
		{"stella mirror create", []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http"}},
		{"stella mirror sign", []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key + ".key"}},
		{"stella mirror verify", []string{"mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", key + ".pub"}},
		{"stella mirror verify-checksums", []string{"mirror", "verify-checksums", dir, "--key", key + ".pub"}},
		{"stella mirror pack", []string{"mirror", "pack", dir, "--output", archive}},
		{"stella mirror inspect", []string{"mirror", "inspect", archive}},
		// A delta's inspect has base, with what the delta omits.
		{"stella mirror create", []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", filepath.Join(work, "delta"), "--plain-http", "--base", dir, "--base-key", key + ".pub"}},
		{"stella mirror inspect", []string{"mirror", "inspect", filepath.Join(work, "delta")}},
		{"stella mirror import", []string{"mirror", "import", archive, "--registry", airgap, "--plain-http", "--key", key + ".pub", "--advisories-dir", filepath.Join(work, "adv")}},
		{"stella mirror push", []string{"mirror", "push", archive, other + "/stellaops/mirror-bundle", "--plain-http", "--key", key + ".pub"}},
		{"stella mirror sync", []string{"mirror", "sync", bundleRef, airgap + "/copy/bundle", "--plain-http", "--images", "--key", key + ".pub"}},
		{"stella mirror pull", []string{"mirror", "pull", bundleRef, filepath.Join(work, "pulled"), "--plain-http", "--key", key + ".pub"}},
		{"stella mirror doctor", []string{"mirror", "doctor", "--registry", airgap, "--plain-http"}},
		{"stella mirror inventory", []string{"mirror", "inventory", "--registry", airgap, "--plain-http", "--output", filepath.Join(work, "inventory.json"), "--key", key + ".key", "--bundle-key", key + ".pub"}},
		{"stella mirror catalog", []string{"mirror", "catalog", other + "/stellaops/mirror-bundle", "--plain-http", "--key", key + ".key", "--output", work}},
		{"stella mirror pack", []string{"mirror", "pack", dir, "--output", filepath.Join(work, "split.tar"), "--split", "1M", "--key", key + ".key"}},
		{"stella mirror verify-checksums FILE.volumes.json", []string{"mirror", "verify-checksums", filepath.Join(work, "split.tar.volumes.json"), "--key", key + ".pub"}},
	}
	var covered []string
	for _, s := range steps {
		code, stdout, stderr := run(t, append(s.args, "--format", "json")...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", s.command, code, stdout, stderr)
		}
		if stderr != "" {
			t.Errorf("%s: stderr is not empty: %q", s.command, stderr)
		}
		checkSchema(t, s.command, stdout, schemas[s.command])
		covered = append(covered, s.command)
	}
	// login reads the password from stdin.
	var stdout, stderr bytes.Buffer
	code := Execute(t.Context(), []string{"mirror", "login", airgap, "-u", "mirror", "--password-stdin", "--registry-config", cfg, "--plain-http", "--format", "json"},
		strings.NewReader("pw\n"), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("login: exit %d %s%s", code, stdout.String(), stderr.String())
	}
	checkSchema(t, "stella mirror login", stdout.String(), schemas["stella mirror login"])
	code, out, errs := run(t, "mirror", "logout", airgap, "--registry-config", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("logout: exit %d %s%s", code, out, errs)
	}
	checkSchema(t, "stella mirror logout", out, schemas["stella mirror logout"])
	covered = append(covered, "stella mirror login", "stella mirror logout")
	// serve prints its JSON when ready, then serves until interrupted.
	ctx, cancel := context.WithCancel(t.Context())
	ready := &firstWrite{signal: make(chan struct{})}
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		done <- Execute(ctx, []string{"mirror", "serve", dir, "--addr", "127.0.0.1:0", "--key", key + ".pub", "--format", "json"}, nil, ready, &serveErr)
	}()
	select {
	case <-ready.signal:
	case code := <-done:
		t.Fatalf("serve: exit %d before it was ready: %s", code, serveErr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve: exit %d after an interrupt: %s", code, serveErr.String())
	}
	checkSchema(t, "stella mirror serve", ready.buf.String(), schemas["stella mirror serve"])
	covered = append(covered, "stella mirror serve")
	for command := range schemas {
		if command != "error" && !slices.Contains(covered, command) {
			t.Errorf("docs/json.md documents %s, which this test does not run", command)
		}
	}
}

// TestJSONErrors: a failing command prints exactly {"error", "exitCode"} on
// stdout, with the process's exit code, and nothing on stderr; without
// --format json the error is one line on stderr and stdout stays empty.
func TestJSONErrors(t *testing.T) {
	schemas := jsonSchemas(t)
	dir := testBundle(t)
	pub := filepath.Join(testutil.ModuleRoot(t), "tools", "cosign", "cosign.pub")
	os.WriteFile(filepath.Join(dir, "manifest.dsse"), []byte(`{"payloadType":"x","payload":"","signatures":[]}`), 0o644)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"mirror", "inspect", "/nonexistent"}, ExitInput},
		{[]string{"mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub}, ExitSignature},
		{[]string{"mirror", "create", "--output", "x"}, ExitInput},
		{[]string{"mirror", "pack", "--bogus", dir}, ExitInput},
		{[]string{"mirror", "frobnicate"}, ExitInput},
		{[]string{"version", "extra"}, ExitInput},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		code, stdout, stderr := run(t, append(tt.args, "--format", "json")...)
		if code != tt.code || stderr != "" {
			t.Errorf("%s: exit %d (want %d), stderr %q", name, code, tt.code, stderr)
		}
		checkSchema(t, name, stdout, schemas["error"])
		var e errorResult
		if json.Unmarshal([]byte(stdout), &e) != nil || e.ExitCode != code || e.Error == "" {
			t.Errorf("%s: %s", name, stdout)
		}
		code, stdout, stderr = run(t, tt.args...)
		if code != tt.code || stdout != "" || !strings.HasPrefix(stderr, "stella: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s (text): exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
		}
	}
}

// firstWrite collects output and signals its first write.
type firstWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	once   sync.Once
	signal chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.mu.Lock()
	n, err := f.buf.Write(p)
	f.mu.Unlock()
	f.once.Do(func() { close(f.signal) })
	return n, err
}
