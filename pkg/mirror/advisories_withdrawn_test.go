package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// recordName is the record import keeps in --advisories-dir
// (mirror.AdvisoryRecordName), spelt out so these tests also build on a
// stella that keeps none.
const recordName = ".stella-advisories.json"

// advisoryLine makes signed bundles of the sample release, each with the
// advisories given (path → content) and the generation given.
type advisoryLine struct {
	source, priv, pub string
}

func newAdvisoryLine(t *testing.T) *advisoryLine {
	t.Helper()
	priv, pub := testKeys(t, "signer")
	return &advisoryLine{source: testutil.Registry(t), priv: priv, pub: pub}
}

func (l *advisoryLine) bundle(t *testing.T, generation int64, adv map[string]string) string {
	t.Helper()
	advDir := t.TempDir()
	for name, content := range adv {
		os.MkdirAll(filepath.Join(advDir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(advDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, releaseFile, _ := testutil.PushSample(t, l.source, sample.Spec{})
	dir := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseFile, advDir, dir)
	opts.Generation = generation
	if len(adv) == 0 {
		opts.AdvisoriesDir = ""
	}
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, l.priv)
	return dir
}

func (l *advisoryLine) importInto(t *testing.T, src, target, advDir string, edit ...func(*mirror.ImportOptions)) (*mirror.PlaceResult, error) {
	t.Helper()
	opts := importOpts(t, src, target, l.pub)
	opts.AdvisoriesDir = advDir
	for _, e := range edit {
		e(&opts)
	}
	return mirror.Import(context.Background(), opts)
}

// importWaiting holds advDir's lock and starts an import of src into
// target and advDir, which waits for it: it returns once the import says it
// waits. unlock lets it go on; done has its error.
func (l *advisoryLine) importWaiting(t *testing.T, src, target, advDir string) (unlock func(), done <-chan error) {
	t.Helper()
	unlock, err := layout.LockDir(context.Background(), advDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		_, err := l.importInto(t, src, target, advDir, func(o *mirror.ImportOptions) {
			o.Logger = slog.New(onMessage{"waiting for another import", waiting, &sync.Once{}})
		})
		result <- err
	}()
	select {
	case <-waiting:
	case err := <-result:
		unlock()
		t.Fatalf("finished while another held the directory's lock: %v", err)
	}
	return unlock, result
}

// importedA makes bundles A (generation 100, advisories advA) and B (102,
// advB), imports A into a fresh registry and advisories directory, and
// returns B, the registry and the directory.
func (l *advisoryLine) importedA(t *testing.T) (b, target, dir string) {
	t.Helper()
	a := l.bundle(t, 100, advA)
	b = l.bundle(t, 102, advB)
	target, dir = testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
	if _, err := l.importInto(t, a, target, dir); err != nil {
		t.Fatal(err)
	}
	return b, target, dir
}

// advisoriesIn reads every file under dir but the record and the hidden
// temporary files of an import under way.
func advisoriesIn(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := readTree(t, dir)
	delete(tree, recordName)
	for name := range tree {
		if base := filepath.Base(name); strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-") {
			delete(tree, name)
		}
	}
	return tree
}

var (
	advA = map[string]string{"nvd/a.json": `{"a":1}`, "nvd/2025/fp.json": `{"fp":1}`, "old/gone.json": `{"g":1}`, "osv/x.json": `{"x":1}`, "vendor.json": `{"v":1}`}
	advB = map[string]string{"nvd/a.json": `{"a":2}`, "osv/x.json": `{"x":1}`, "vendor.json": `{"v":1}`, "osv/new.json": `{"n":1}`}
)

// TestImportRemovesWithdrawnAdvisories imports A, then B, which no longer
// lists nvd/2025/fp.json (withdrawn upstream, a false positive): the file
// A wrote is removed, with the directory it alone was in; a withdrawn file
// the operator edited since, and a file of the operator's own, are left.
// Before, every withdrawn advisory stayed for good, and the scanner read it.
func TestImportRemovesWithdrawnAdvisories(t *testing.T) {
	l := newAdvisoryLine(t)
	a := l.bundle(t, 100, advA)
	withFeed := map[string]string{"feed/old.json": `{"o":1}`}
	for k, v := range advA {
		withFeed[k] = v
	}
	a2 := l.bundle(t, 101, withFeed)
	b := l.bundle(t, 102, advB)
	target, dir := testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
	for _, src := range []string{a, a2} {
		if _, err := l.importInto(t, src, target, dir); err != nil {
			t.Fatal(err)
		}
	}
	// The operator's own file, and a withdrawn one edited by hand.
	os.WriteFile(filepath.Join(dir, "local.json"), []byte(`{"mine":1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "feed", "old.json"), []byte(`{"o":"edited"}`), 0o644)
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"local.json": `{"mine":1}`, "feed/old.json": `{"o":"edited"}`}
	for k, v := range advB {
		want[k] = v
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after A, then B:\n got %v\nwant %v", got, want)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nvd", "2025")); err == nil {
		t.Errorf("nvd/2025, emptied by the withdrawal, is left")
	}
}

// TestImportSameBundleAgainWritesNothing imports B twice into one
// directory: the second leaves every advisory and the record as they were
// (same inode, same bytes). Before, each was written again and renamed
// over the same bytes.
func TestImportSameBundleAgainWritesNothing(t *testing.T) {
	l := newAdvisoryLine(t)
	b := l.bundle(t, 102, advB)
	target, dir := testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
	before := inodes(t, dir)
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
	after := inodes(t, dir)
	for name, st := range before {
		if !os.SameFile(st, after[name]) || st.ModTime() != after[name].ModTime() {
			t.Errorf("%s written again by the same import", name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files %d, then %d", len(before), len(after))
	}
}

func inodes(t *testing.T, dir string) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[p], _ = os.Lstat(p)
		}
		return err
	})
	return out
}

// TestAdvisoriesDirNotRolledBack: the directory holds B's advisories
// (generation 102); A (100), imported into another registry with the same
// --advisories-dir, is refused (exit 8) with the directory as it was,
// until --allow-rollback, which gives the directory A's set (B's own files
// withdrawn). Before, A's were written over B's without a word, and B's
// new ones stayed beside them.
func TestAdvisoriesDirNotRolledBack(t *testing.T) {
	l := newAdvisoryLine(t)
	a, b := l.bundle(t, 100, advA), l.bundle(t, 102, advB)
	dir := filepath.Join(t.TempDir(), "advisories")
	if _, err := l.importInto(t, b, testutil.Registry(t), dir); err != nil {
		t.Fatal(err)
	}
	other := testutil.Registry(t)
	_, err := l.importInto(t, a, other, dir)
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Errorf("A over B's advisories: %v, want exit 8", err)
	}
	if tags := testutil.Tags(t, other); len(tags) != 0 {
		t.Errorf("refused, it tagged %v", tags)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advB) {
		t.Errorf("refused, the directory holds %v", got)
	}
	if _, err := l.importInto(t, a, other, dir, func(o *mirror.ImportOptions) { o.AllowRollback = true }); err != nil {
		t.Fatal(err)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advA) {
		t.Errorf("rolled back to A, the directory holds %v, want %v", got, advA)
	}
}

// TestAdvisoriesCrashBeforeRecord: an import of B cut short once its
// advisories were placed and A's withdrawn ones removed, but before its
// record replaced A's (emulated by putting A's record back), is run
// again: it passes, and the directory and record are B's.
func TestAdvisoriesCrashBeforeRecord(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	recA, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		t.Fatalf("no record after A: %v", err)
	}
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
	recB, _ := os.ReadFile(filepath.Join(dir, recordName))
	os.WriteFile(filepath.Join(dir, recordName), recA, 0o644)
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatalf("B again after the crash: %v", err)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advB) {
		t.Errorf("holds %v, want B's %v", got, advB)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, recordName)); string(got) != string(recB) {
		t.Errorf("record after the re-run:\n%s\nwant B's:\n%s", got, recB)
	}
}

// TestAdvisoriesBundleWithoutAny: a bundle that lists no advisories
// (images only) leaves the directory as it was, and withdraws nothing.
func TestAdvisoriesBundleWithoutAny(t *testing.T) {
	l := newAdvisoryLine(t)
	a, none := l.bundle(t, 100, advA), l.bundle(t, 101, nil)
	target, dir := testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
	for _, src := range []string{a, none} {
		if _, err := l.importInto(t, src, target, dir); err != nil {
			t.Fatal(err)
		}
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advA) {
		t.Errorf("after a bundle without advisories: %v, want A's %v", got, advA)
	}
}

// TestWithdrawalFollowsNoSymlink: a withdrawn advisory replaced by a
// symlink to a file of the same bytes, and one whose directory was
// replaced by a symlink to a directory holding the same file, are left,
// and so are the files they point to.
func TestWithdrawalFollowsNoSymlink(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	// old/gone.json → a symlink to a file of the same bytes, outside.
	outside := filepath.Join(t.TempDir(), "gone.json")
	os.WriteFile(outside, []byte(advA["old/gone.json"]), 0o644)
	os.Remove(filepath.Join(dir, "old", "gone.json"))
	if err := os.Symlink(outside, filepath.Join(dir, "old", "gone.json")); err != nil {
		t.Fatal(err)
	}
	// nvd/2025 → moved to kept/2025, a symlink in its place.
	os.MkdirAll(filepath.Join(dir, "kept"), 0o755)
	if err := os.Rename(filepath.Join(dir, "nvd", "2025"), filepath.Join(dir, "kept", "2025")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../kept/2025", filepath.Join(dir, "nvd", "2025")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "kept", "2025", "fp.json")); err != nil || string(data) != advA["nvd/2025/fp.json"] {
		t.Errorf("the file behind a symlinked directory: %q, %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nvd", "2025")); err != nil {
		t.Errorf("the operator's symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "old", "gone.json")); err != nil {
		t.Errorf("the operator's symlink to a file: %v", err)
	}
	if data, err := os.ReadFile(outside); err != nil || string(data) != advA["old/gone.json"] {
		t.Errorf("the file a symlink points to, outside: %q, %v", data, err)
	}
}

// TestAdvisoriesFinishOneAtATime: an import finishing into a directory
// whose lock another holds (another import finishing there) waits for it,
// so the two never interleave their renames, removals and records; once
// the lock is released it completes. Before, nothing kept two imports apart
// there, and the record of one could list what the other removed.
func TestAdvisoriesFinishOneAtATime(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	unlock, done := l.importWaiting(t, b, target, dir)
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advA) {
		t.Errorf("while waiting, the directory changed: %v", got)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advB) {
		t.Errorf("holds %v, want B's", got)
	}
}

// TestAdvisoriesFailAfterTagsSaySo: an import whose advisories step fails
// once its tags are written (here another import, of a newer bundle,
// recorded the directory while this one waited for its lock) fails with
// the step's exit code, and says that the bundle and its tags are in place:
// it said only "--advisories-dir DIR holds the advisories of bundle …",
// which reads as though nothing was imported.
func TestAdvisoriesFailAfterTagsSaySo(t *testing.T) {
	ctx := context.Background()
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	repo, err := testutil.Client(t).Repository(target + "/stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	rootA, err := repo.Resolve(ctx, "2025.10.0")
	if err != nil {
		t.Fatal(err)
	}
	unlock, done := l.importWaiting(t, b, target, dir)
	// A newer bundle's import recorded the directory meanwhile.
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(data), `"mirrorGeneration": 100`, `"mirrorGeneration": 200`, 1)
	if newer == string(data) {
		t.Fatalf("record without generation 100: %s", data)
	}
	if err := os.WriteFile(filepath.Join(dir, recordName), []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock()
	err = <-done
	if !errors.Is(err, errdef.ErrGeneration) || !strings.Contains(err.Error(), "the bundle and its tags are in place, but --advisories-dir "+dir+" was not updated") {
		t.Fatalf("import of B after a newer record: %v; want exit 8 saying the bundle is in place", err)
	}
	if rootB, err := repo.Resolve(ctx, "2025.10.0"); err != nil || rootB.Digest == rootA.Digest {
		t.Errorf("the tag names %v (A's root %s), %v: want B's root", rootB.Digest, rootA.Digest, err)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advA) {
		t.Errorf("the directory holds %v, want A's, as it was", got)
	}
}

// onMessage is a slog handler that closes ch at the first record whose
// message starts with prefix.
type onMessage struct {
	prefix string
	ch     chan struct{}
	once   *sync.Once
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onMessage) WithGroup(string) slog.Handler      { return h }
