package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// corpus is what every tamper case starts from: one good signed bundle,
// the keys, and a distribution registry that already holds that bundle
// under the "held" prefix (for the generation case).
type corpus struct {
	good     *forged
	key, pub string
	// other is a key pair nobody trusts.
	other  string
	target string
	// escape is where the escaping names of the corpus lead (under /tmp,
	// with a suffix per attack): nothing may ever appear there.
	escape string
}

// canaries are the paths the corpus's escaping names lead to.
func (c *corpus) canaries() []string {
	return []string{c.escape, c.escape + "-abs", c.escape + "-signed"}
}

const (
	devPassword = "stellaops-dev"
	// heldPrefix is where the fixture imported the good bundle: images
	// under held/…, the bundle in held/bundles. The other cases import
	// elsewhere, so what the registry holds never lets them skip a blob.
	heldPrefix, heldRepo = "held", "held/bundles"
	goodGeneration       = 100
)

func newCorpus(t *testing.T) *corpus {
	t.Helper()
	root := testutil.ModuleRoot(t)
	c := &corpus{key: filepath.Join(root, "tools/cosign/cosign.dev.key"), pub: filepath.Join(root, "tools/cosign/cosign.pub"),
		escape: "/tmp/stella-escape-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	source := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	dir := filepath.Join(t.TempDir(), "bundle")
	mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http",
		"--generation", strconv.Itoa(goodGeneration))
	if r := stella(t, []string{"COSIGN_PASSWORD=" + devPassword}, "mirror", "sign", filepath.Join(dir, "manifest.json"),
		"--key", c.key, "--output", filepath.Join(dir, "manifest.dsse")); r.code != 0 {
		t.Fatalf("sign: %s", r.stderr)
	}
	c.good = loadForged(t, dir)
	c.other = filepath.Join(t.TempDir(), "other")
	if r := stella(t, []string{"COSIGN_PASSWORD=x"}, "mirror", "keygen", "--output-key-prefix", c.other); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	c.target = testutil.Distribution(t)
	mustStella(t, "mirror", "import", dir, "--registry", c.target, "--plain-http", "--key", c.pub,
		"--repo-prefix", heldPrefix, "--bundle-repo", heldRepo)
	return c
}

// hostile is one bundle of the corpus, as the forms it comes in.
type hostile struct {
	// dir and tar are the bundle as a directory and as an archive; either
	// may be empty where the attack has no such form.
	dir, tar string
	// culprit is what the one line of error must name; serveCulprit, if
	// set, what serve's must (serve refuses a compressed archive before
	// reading it).
	culprit, serveCulprit string
	// importArgs are added to import (and serve) runs.
	importArgs []string
}

// tamperCase is an attack and the exit codes verify, import and serve
// must refuse it with, in every form it comes in; -1 where the check does
// not apply to it.
type tamperCase struct {
	name               string
	build              func(t *testing.T, c *corpus, work string) hostile
	verify, imp, serve int
}

// TestTamperCorpus builds each malicious or broken bundle of the corpus
// from one good bundle and checks that verify, import and serve refuse it
// through the binary: the documented exit code, one line on stderr naming
// the culprit, the registry's repositories and tags unchanged, and nothing
// written outside (or, for verify and serve, anywhere in) the work
// directory.
func TestTamperCorpus(t *testing.T) {
	c := newCorpus(t)
	for i, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			if err := os.Mkdir(filepath.Join(work, "cwd"), 0o755); err != nil {
				t.Fatal(err)
			}
			h := tc.build(t, c, work)
			if h.dir == "" && h.tar == "" {
				t.Fatal("case built nothing")
			}
			for _, form := range []struct{ kind, path string }{{"dir", h.dir}, {"tar", h.tar}} {
				if form.path == "" {
					continue
				}
				t.Run(form.kind, func(t *testing.T) {
					if tc.verify >= 0 {
						c.refuse(t, work, h, tc.verify, "verify", form.path, "--key", c.pub)
					}
					if tc.imp >= 0 {
						// Each import goes to repositories of its own: blobs an
						// earlier case left (untagged) must not let it skip one.
						where := h.importArgs
						if where == nil {
							prefix := fmt.Sprintf("c%02d-%s", i, form.kind)
							where = []string{"--repo-prefix", prefix, "--bundle-repo", prefix + "/bundles"}
						}
						c.refuse(t, work, h, tc.imp, "import", append([]string{form.path, "--registry", c.target, "--plain-http", "--key", c.pub,
							"--advisories-dir", filepath.Join(work, "advisories"), "--retries", "1"}, where...)...)
					}
					if tc.serve >= 0 {
						if h.serveCulprit != "" {
							h.culprit = h.serveCulprit
						}
						c.refuse(t, work, h, tc.serve, "serve", append([]string{form.path, "--key", c.pub, "--addr", "127.0.0.1:0"}, h.importArgs...)...)
					}
				})
			}
		})
	}
}

// refuse runs one command on a hostile bundle and checks how it failed.
func (c *corpus) refuse(t *testing.T, work string, h hostile, want int, command string, args ...string) {
	t.Helper()
	before := snapshot(t, work)
	tags := testutil.Tags(t, c.target)
	r := stellaIn(t, work, append([]string{"mirror", command}, args...)...)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	switch {
	case r.code != want:
		t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", command, r.code, want, r.stdout, r.stderr)
	case len(lines) != 1 || !strings.HasPrefix(lines[0], "stella: "):
		t.Errorf("%s: stderr is not one line of error:\n%s", command, r.stderr)
	case !strings.Contains(r.stderr, h.culprit):
		t.Errorf("%s: error does not name %q:\n%s", command, h.culprit, r.stderr)
	}
	if after := testutil.Tags(t, c.target); !reflect.DeepEqual(tags, after) {
		t.Errorf("%s changed the registry's tags:\n%v\n->\n%v", command, tags, after)
	}
	if after := snapshot(t, work); !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the work directory:\n%v\n->\n%v", command, before, after)
	}
	for _, p := range c.canaries() {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Errorf("%s wrote %s", command, p)
		}
	}
}

// stellaIn runs the binary in dir/cwd, bounded in time; a serve that
// starts listening is stopped and reported.
func stellaIn(t *testing.T, work string, args ...string) result {
	t.Helper()
	cwd := filepath.Join(work, "cwd")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stellaBin, args...)
	cmd.Dir = cwd
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Dir(cfg))
	var stderr bytes.Buffer
	stdout := &firstWrite{started: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-stdout.started:
		// Only a serve that is up writes before it ends.
		if args[1] == "serve" {
			cmd.Process.Signal(os.Interrupt)
			<-done
			t.Errorf("serve started serving a hostile bundle: %s", stdout.String())
			return result{code: -2, stdout: stdout.String(), stderr: stderr.String()}
		}
		err = <-done
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within the deadline: %s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 512<<10 {
		t.Errorf("%s used %d MiB of memory", strings.Join(args[:2], " "), ru.Maxrss>>10)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// firstWrite is a buffer that signals its first write. It embeds no
// bytes.Buffer: io.Copy would call its ReadFrom and never Write.
type firstWrite struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	started chan struct{}
	once    sync.Once
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.started) })
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *firstWrite) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String()
}

// snapshot lists every path under dir with its size and mode; the
// directory a command may write to (advisories) must stay empty.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == "advisories":
			// The target directory may be made; it must stay empty.
		case info.IsDir():
			out[rel] = "dir"
		default:
			out[rel] = info.Mode().String() + " " + strconv.FormatInt(info.Size(), 10) + " " + info.ModTime().Format(time.RFC3339Nano)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
