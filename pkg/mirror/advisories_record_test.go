package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestAdvisoryRecordNotStellas: a record that is not one stella wrote
// (damaged, or of a newer stella) is refused before anything is written:
// without it, what stella may remove is unknown.
func TestAdvisoryRecordNotStellas(t *testing.T) {
	l := newAdvisoryLine(t)
	b := l.bundle(t, 102, advB)
	for _, tc := range []struct {
		name, record string
		want         error
	}{
		{"damaged", `{"schemaVersion":1,"files":[{"path":"../etc/passwd"`, errdef.ErrMalformed},
		{"escaping path", `{"schemaVersion":1,"bundleId":"x","version":"1","mirrorGeneration":1,"root":"sha256:` + strings.Repeat("0", 64) + `","files":[{"path":"../x","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1}]}`, errdef.ErrMalformed},
		{"newer", `{"schemaVersion":2,"somethingNew":true}`, errdef.ErrNewerFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, dir := testutil.Registry(t), t.TempDir()
			os.WriteFile(filepath.Join(dir, mirror.AdvisoryRecordName), []byte(tc.record), 0o644)
			_, err := l.importInto(t, b, target, dir)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), mirror.AdvisoryRecordName) {
				t.Errorf("got %v, want %v naming the record", err, tc.want)
			}
			if tags := testutil.Tags(t, target); len(tags) != 0 {
				t.Errorf("refused, it tagged %v", tags)
			}
			if got := advisoriesIn(t, dir); len(got) != 0 {
				t.Errorf("refused, it wrote %v", got)
			}
		})
	}
}

// TestWithdrawnAdvisoriesReported: the result says what became of each
// withdrawn advisory (removed, changed by hand and left, already gone),
// and how many of the release's were already in place; with
// KeepWithdrawn they are kept and still recorded, so the next import
// without it removes them.
func TestWithdrawnAdvisoriesReported(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	res, err := l.importInto(t, b, target, dir, func(o *mirror.ImportOptions) { o.KeepWithdrawn = true })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.WithdrawnAdvisories), fmt.Sprintf("[{%s/nvd/2025/fp.json kept} {%s/old/gone.json kept}]", dir, dir); got != want {
		t.Errorf("--keep-withdrawn: withdrawn %s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "old", "gone.json")); err != nil {
		t.Errorf("--keep-withdrawn removed it: %v", err)
	}
	// One edited by hand, one removed by hand: left and said so.
	os.WriteFile(filepath.Join(dir, "nvd", "2025", "fp.json"), []byte(`{"fp":"mine"}`), 0o644)
	res, err = l.importInto(t, b, target, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.WithdrawnAdvisories), fmt.Sprintf("[{%s/nvd/2025/fp.json changed} {%s/old/gone.json removed}]", dir, dir); got != want {
		t.Errorf("withdrawn %s, want %s", got, want)
	}
	if res.AdvisoriesInPlace != len(advB) || len(res.Advisories) != len(advB) {
		t.Errorf("advisories %v, %d in place; want B's %d, all in place", res.Advisories, res.AdvisoriesInPlace, len(advB))
	}
	// Changed, it is no longer stella's: not named again.
	res, err = l.importInto(t, b, target, dir)
	if err != nil || len(res.WithdrawnAdvisories) != 0 {
		t.Errorf("third import: %v, withdrawn %v", err, res.WithdrawnAdvisories)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "nvd", "2025", "fp.json")); string(data) != `{"fp":"mine"}` {
		t.Errorf("the operator's edit: %q", data)
	}
}

// TestFirstImportNamesUnrecordedFiles: the first import into a directory
// with no record (one an earlier stella wrote) removes nothing it does not
// list, and says how many such files there are: an earlier stella's
// withdrawn advisories may be among them, which no record lets it remove.
func TestFirstImportNamesUnrecordedFiles(t *testing.T) {
	l := newAdvisoryLine(t)
	b := l.bundle(t, 102, advB)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "withdrawn-long-ago.json"), []byte(`{}`), 0o644)
	var logs strings.Builder
	res, err := l.importInto(t, b, testutil.Registry(t), dir, func(o *mirror.ImportOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no record of an earlier import") || !strings.Contains(logs.String(), "files=1 first=withdrawn-long-ago.json") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "withdrawn-long-ago.json")); err != nil || len(res.WithdrawnAdvisories) != 0 {
		t.Errorf("a file no record lists: %v, withdrawn %v", err, res.WithdrawnAdvisories)
	}
}

// TestCreateLeavesOutTheImportRecord: a tier that carries on what it
// imported gives create the --advisories-dir an import wrote, which holds
// import's record (and, after an import cut short, its temporary file).
// create carried the record as an advisory; the next import then wrote its
// own record over it and said it wrote it. create now leaves both out,
// warning of each, and the next import's record is its own.
func TestCreateLeavesOutTheImportRecord(t *testing.T) {
	l := newAdvisoryLine(t)
	feed := t.TempDir()
	if _, err := l.importInto(t, l.bundle(t, 102, advB), testutil.Registry(t), feed); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(feed, "."+mirror.AdvisoryRecordName+".tmp-123-abcd")
	os.WriteFile(leftover, []byte(`{"schemaVersion":1`), 0o600)
	_, releaseFile, _ := testutil.PushSample(t, l.source, sample.Spec{})
	b := filepath.Join(t.TempDir(), "bundle")
	var logs bytes.Buffer
	opts := createOpts(t, releaseFile, feed, b)
	opts.Generation = 103
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := mirror.Create(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var carried []string
	for _, f := range res.Manifest.Advisories {
		carried = append(carried, strings.TrimPrefix(f.Path, "advisories/"))
	}
	if want := slices.Sorted(maps.Keys(advB)); !slices.Equal(slices.Sorted(slices.Values(carried)), want) {
		t.Errorf("carried %v, want the feed's advisories %v only", carried, want)
	}
	for _, name := range []string{filepath.Join(feed, mirror.AdvisoryRecordName), leftover} {
		if !strings.Contains(logs.String(), name) {
			t.Errorf("no warning names %s:\n%s", name, logs.String())
		}
	}
	sign(t, b, l.priv)
	next := t.TempDir()
	if _, err := l.importInto(t, b, testutil.Registry(t), next); err != nil {
		t.Fatal(err)
	}
	record, err := os.ReadFile(filepath.Join(next, mirror.AdvisoryRecordName))
	if err != nil || !strings.Contains(string(record), `"bundleId"`) {
		t.Errorf("the next import's record is not its own (%v): %.200s", err, record)
	}
}
