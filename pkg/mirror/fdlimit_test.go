//go:build linux

package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// limitDescriptors lowers the process's soft limit of open descriptors to
// those open now plus room, until the test ends. The test must not be
// parallel: the limit is the process's.
func limitDescriptors(t *testing.T, room uint64) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(len(ents)) + room
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestManyAdvisoriesFewDescriptors: a release whose advisories are spread
// over many directories, many of them of one content (empty or identical
// advisories), goes through create, sign, verify, verify-checksums, pack
// and import into --advisories-dir with a few hundred descriptors. Before,
// create held a descriptor for each directory, and import one for each
// path of a content at once: both failed with "too many open files" under
// ulimit -n 1024 for a thousand of them.
func TestManyAdvisoriesFewDescriptors(t *testing.T) {
	const many = 600 // each of the two kinds; the limit leaves room for 250
	ctx := context.Background()
	src := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, src, sample.Spec{})
	for i := range many {
		d := filepath.Join(advisories, "osv", fmt.Sprintf("pkg-%04d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "a.json"), fmt.Appendf(nil, `{"id":%d}`, i), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(advisories, fmt.Sprintf("same-%04d.json", i)), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target := testutil.Registry(t)
	priv, pub := testKeys(t, "signer")
	tmp := t.TempDir()
	dir, archive, written := filepath.Join(tmp, "bundle"), filepath.Join(tmp, "bundle.tar"), filepath.Join(tmp, "written")

	limitDescriptors(t, 250)
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatalf("create: %v", err)
	}
	sign(t, dir, priv)
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub), Now: testNow}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)}); err != nil {
		t.Fatalf("verify-checksums: %v", err)
	}
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatalf("pack: %v", err)
	}
	opts := importOpts(t, archive, target, pub)
	opts.AdvisoriesDir = written
	if _, err := mirror.Import(ctx, opts); err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, name := range []string{fmt.Sprintf("same-%04d.json", many-1), fmt.Sprintf("osv/pkg-%04d/a.json", many-1)} {
		if _, err := os.Stat(filepath.Join(written, name)); err != nil {
			t.Errorf("import left out %s: %v", name, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(written, "same-0000.json")); string(got) != "{}" {
		t.Errorf("same-0000.json holds %q, want {}", got)
	}
}
