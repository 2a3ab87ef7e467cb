package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// syncCall is one fsync, fdatasync or syncfs (path: its descriptor's), or
// one rename or link (path: the new name, from: the old) of a traced run,
// in the order they returned.
type syncCall struct {
	op, path, from string
}

var (
	straceSync   = regexp.MustCompile(`^(fsync|fdatasync|syncfs)\(\d+<([^>]*)>\)\s*= 0$`)
	straceRename = regexp.MustCompile(`^(renameat2?|linkat)\((?:AT_FDCWD|\d+)<([^>]*)>, "([^"]*)", (?:AT_FDCWD|\d+)<([^>]*)>, "([^"]*)".*\)\s*= 0$`)
	stracePid    = regexp.MustCompile(`^(\d+) +`)
	straceResume = regexp.MustCompile(`^<\.\.\. \w+ resumed>`)
)

// syncTrace runs the binary under strace and returns its successful
// syncs, renames and links. It fails the test unless the run exits 0.
func syncTrace(t *testing.T, env []string, args ...string) []syncCall {
	t.Helper()
	return syncTraceIn(t, env, "", args...)
}

// syncTraceIn is syncTrace with stdin.
func syncTraceIn(t *testing.T, env []string, stdin string, args ...string) []syncCall {
	t.Helper()
	strace := tool(t, "strace")
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-y", "-e", "signal=none", "-o", log,
		"-e", "trace=fsync,fdatasync,syncfs,renameat,renameat2,linkat", stellaBin}, args...)...)
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir()), env...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stella %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var calls []syncCall
	pending := map[string]string{} // a call that another thread's interrupted
	for _, line := range strings.Split(string(data), "\n") {
		pid := ""
		if m := stracePid.FindStringSubmatch(line); m != nil {
			pid, line = m[1], line[len(m[0]):]
		}
		if start, ok := strings.CutSuffix(line, " <unfinished ...>"); ok {
			pending[pid] = start
			continue
		}
		if m := straceResume.FindString(line); m != "" {
			line = pending[pid] + line[len(m):]
			delete(pending, pid)
		}
		if m := straceSync.FindStringSubmatch(line); m != nil {
			calls = append(calls, syncCall{op: "sync", path: m[2]})
		} else if m := straceRename.FindStringSubmatch(line); m != nil {
			abs := func(dir, p string) string {
				if filepath.IsAbs(p) {
					return p
				}
				return filepath.Join(dir, p)
			}
			calls = append(calls, syncCall{op: "rename", from: abs(m[2], m[3]), path: abs(m[4], m[5])})
		}
	}
	return calls
}

// checkDurable checks that final took its name (the last rename or link
// onto it) only once its content was synced, and that its directory was
// synced after: a file by an fsync of it, a directory (tree) by a syncfs.
func checkDurable(t *testing.T, calls []syncCall, final string, tree bool) {
	t.Helper()
	final, err := filepath.EvalSymlinks(final)
	if err != nil {
		t.Fatal(err)
	}
	at := lastRename(calls, final)
	if at < 0 {
		t.Errorf("%s: no rename or link onto it", final)
		return
	}
	from, synced := calls[at].from, false
	for _, c := range calls[:at] {
		if c.op == "sync" && (c.path == from || tree && strings.HasPrefix(from+"/", c.path+"/")) {
			synced = true
		}
	}
	if !synced {
		t.Errorf("%s: renamed from %s, never synced before", final, filepath.Base(from))
	}
	for _, c := range calls[at+1:] {
		if c.op == "sync" && c.path == filepath.Dir(final) {
			return
		}
	}
	t.Errorf("%s: its directory was not synced after the rename", final)
}

// TestOutputsDurable traces every command that writes an output an
// operator carries across the gap (or keeps: keys, advisories): each
// output is synced before it takes its name, and its directory after,
// so that a power cut after the command said "done" leaves it whole under
// its name, never empty or truncated, nor the old one.
func TestOutputsDurable(t *testing.T) {
	source := testutil.Distribution(t)
	rel, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	key, pub, pass := devKeyPair(t)
	work := t.TempDir()
	bundle := filepath.Join(work, "bundle")
	archive := filepath.Join(work, "bundle.tar")
	create := []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}

	t.Run("create", func(t *testing.T) {
		checkDurable(t, syncTrace(t, nil, append(create, bundle)...), bundle, true)
	})
	t.Run("sign", func(t *testing.T) {
		calls := syncTrace(t, pass, "mirror", "sign", filepath.Join(bundle, "manifest.json"), "--key", key)
		for _, name := range []string{"manifest.dsse", "public-key.pem", "index.json", "SHA256SUMS", "SHA256SUMS.sig"} {
			checkDurable(t, calls, filepath.Join(bundle, name), false)
		}
		// The new referrer's blobs too: everything, after the last rename.
		resolved, _ := filepath.EvalSymlinks(bundle)
		for i := len(calls) - 1; i >= 0 && calls[i].op != "rename"; i-- {
			if calls[i].op == "sync" && calls[i].path == resolved {
				return
			}
		}
		t.Errorf("no sync of the whole bundle after its last rename")
	})
	t.Run("create --output F.tar", func(t *testing.T) {
		out := filepath.Join(work, "created.tar")
		checkDurable(t, syncTrace(t, pass, append(create, out, "--key", key)...), out, false)
	})
	t.Run("pack", func(t *testing.T) {
		checkDurable(t, syncTrace(t, nil, "mirror", "pack", bundle, "--output", archive), archive, false)
	})
	t.Run("pack --split", func(t *testing.T) {
		out := filepath.Join(work, "split", "b.tar.zst")
		os.MkdirAll(filepath.Dir(out), 0o755)
		calls := syncTrace(t, pass, "mirror", "pack", bundle, "--output", out, "--split", "1M", "--key", key)
		for _, name := range []string{"b.tar.zst.000", "b.tar.zst.volumes.json", "b.tar.zst.volumes.dsse"} {
			checkDurable(t, calls, filepath.Join(filepath.Dir(out), name), false)
		}
	})
	registry := testutil.Distribution(t)
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)
	t.Run("pull", func(t *testing.T) {
		out := filepath.Join(work, "pulled")
		calls := syncTrace(t, nil, "mirror", "pull", registry+"/stellaops/mirror-bundle:"+rel.Spec.Version, "--plain-http", "--key", pub, out)
		checkDurable(t, calls, out, true)
	})
	t.Run("import --advisories-dir", func(t *testing.T) {
		dir := filepath.Join(work, "advisories")
		calls := syncTrace(t, nil, "mirror", "import", archive, "--registry", registry, "--plain-http", "--key", pub, "--advisories-dir", dir)
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			t.Fatal("no advisory written")
		}
		// Synced by one syncfs of the directory's filesystem before the
		// renames and one after (a sync a file, 20000 for 10000 small
		// advisories, took most of an import's time).
		for _, e := range entries {
			checkDurable(t, calls, filepath.Join(dir, e.Name()), true)
		}
		// And by those syncs alone: no sync of an advisory's own
		// temporary file or directory, which a feed of 10000 pays 20000
		// times (the record, one file, is synced itself).
		for _, c := range calls {
			rel, err := filepath.Rel(dir, c.path)
			if c.op == "sync" && err == nil && rel != "." && filepath.IsLocal(rel) && !strings.HasPrefix(rel, "."+mirror.AdvisoryRecordName+".tmp-") {
				t.Errorf("advisory %s synced on its own: the filesystem's one sync makes it durable", rel)
			}
		}
	})
	t.Run("inventory --key", func(t *testing.T) {
		out := filepath.Join(work, "inventory.json")
		calls := syncTrace(t, pass, "mirror", "inventory", "--registry", registry, "--plain-http", "--output", out, "--key", key, "--bundle-key", pub)
		checkDurable(t, calls, out, false)
		checkDurable(t, calls, strings.TrimSuffix(out, ".json")+".dsse", false)
	})
	t.Run("login", func(t *testing.T) {
		host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")})
		cfg := filepath.Join(work, "docker", "config.json")
		os.MkdirAll(filepath.Dir(cfg), 0o700)
		os.WriteFile(cfg, []byte("{}"), 0o600)
		cfg, _ = filepath.EvalSymlinks(cfg)
		calls := syncTraceIn(t, nil, "s3cret\n", "mirror", "login", host, "-u", "mirror", "--password-stdin", "--plain-http", "--registry-config", cfg)
		// The store (a dependency) renames its file into place unsynced:
		// the file and its directory are synced once it has.
		at := lastRename(calls, cfg)
		if at < 0 {
			t.Fatalf("%s: no rename onto it", cfg)
		}
		synced := map[string]bool{}
		for _, c := range calls[at+1:] {
			if c.op == "sync" {
				synced[c.path] = true
			}
		}
		if !synced[cfg] || !synced[filepath.Dir(cfg)] {
			t.Errorf("%s: it and its directory not synced after the rename (synced: %v)", cfg, synced)
		}
	})
	for _, force := range []bool{false, true} {
		t.Run("keygen", func(t *testing.T) {
			prefix := filepath.Join(work, "keys", "cosign")
			os.MkdirAll(filepath.Dir(prefix), 0o755)
			args := []string{"mirror", "keygen", "--output-key-prefix", prefix}
			if force {
				args = append(args, "--force")
			}
			calls := syncTrace(t, []string{"COSIGN_PASSWORD=x"}, args...)
			checkDurable(t, calls, prefix+".key", false)
			checkDurable(t, calls, prefix+".pub", false)
		})
	}
}

// TestDirectorySyncUnsupported packs onto a filesystem that cannot sync a
// directory (strace makes its fsync fail with EINVAL, as some network and
// FUSE ones do): the archive is written all the same.
func TestDirectorySyncUnsupported(t *testing.T) {
	strace := tool(t, "strace")
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	media := t.TempDir()
	out := filepath.Join(media, "b.tar")
	r := runStella(t, nil, strace, "-f", "-qq", "-o", os.DevNull, "-P", media, "-e", "inject=fsync:error=EINVAL",
		stellaBin, "mirror", "pack", dir, "--output", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	mustStella(t, "mirror", "verify", out, "--key", pub)
}

// lastRename returns the index of the last rename (or link) onto path in
// calls, or -1.
func lastRename(calls []syncCall, path string) int {
	at := -1
	for i, c := range calls {
		if c.op == "rename" && c.path == path {
			at = i
		}
	}
	return at
}

// TestSignBlobsDurableBeforeIndex: sign of a bundle directory synced the
// new signature's blobs only at its end, after index.json (synced, and its
// directory) named the referrer: a power cut in between left an index.json
// naming a referrer manifest whose data never reached the disk (an empty
// file under its digest's name), and the old referrer's removed. Each new
// blob is now on disk before manifest.dsse and index.json take their names.
func TestSignBlobsDurableBeforeIndex(t *testing.T) {
	created, key, _, env := unsignedBundleDir(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	copyDir(t, created, dir)
	calls := syncTrace(t, env, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key)
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct{ Digest, ArtifactType string }
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	var blobs []string
	for _, m := range index.Manifests {
		if m.ArtifactType == "application/vnd.dsse.envelope.v1+json" {
			blobs = append(blobs, filepath.Join(resolved, "blobs/sha256", strings.TrimPrefix(m.Digest, "sha256:")))
		}
	}
	if len(blobs) != 1 {
		t.Fatalf("referrers in index.json: %v", blobs)
	}
	for _, head := range []string{"manifest.dsse", "index.json"} {
		at := lastRename(calls, filepath.Join(resolved, head))
		if at < 0 {
			t.Fatalf("%s: no rename onto it", head)
		}
		for _, blob := range blobs {
			renamed, synced := -1, false
			for i, c := range calls[:at] {
				if c.op == "rename" && c.path == blob {
					renamed = i
				}
				if c.op == "sync" && c.path == blob {
					synced = true
				}
			}
			named := false
			for _, c := range calls[max(renamed, 0):at] {
				if c.op == "sync" && c.path == filepath.Dir(blob) {
					named = true
				}
			}
			if renamed < 0 || !synced || !named {
				t.Errorf("%s took its name before the referrer %s was on disk (renamed before: %v, synced before: %v, its name synced: %v)", head, filepath.Base(blob), renamed >= 0, synced, named)
			}
		}
	}
}
