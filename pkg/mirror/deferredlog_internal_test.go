package mirror

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A deferred log writes nothing until flushed; then its records in order,
// with the attributes and groups they were logged under, at most
// maxDeferredRecords of them and a count of the rest; after the flush,
// records go straight through.
func TestDeferredLogHoldsUntilFlushed(t *testing.T) {
	var out bytes.Buffer
	d, log := newDeferredLog(slog.New(slog.NewTextHandler(&out, nil)), "the destination's generation check")
	log = log.With("repo", "r").WithGroup("g")
	for i := range maxDeferredRecords + 44 {
		log.Warn(fmt.Sprintf("warning %d", i), "i", i)
	}
	log.Debug("below the level: never held")
	if out.Len() != 0 {
		t.Fatalf("written before the flush:\n%s", out.String())
	}
	d.flush(context.Background())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != maxDeferredRecords+1 {
		t.Fatalf("%d lines after the flush, want %d held and a count", len(lines), maxDeferredRecords+1)
	}
	if first := lines[0]; !strings.Contains(first, `msg="warning 0"`) || !strings.Contains(first, "repo=r") || !strings.Contains(first, "g.i=0") {
		t.Errorf("first record: %s", first)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "44 more log records") {
		t.Errorf("last line: %s, want the count of the 44 not held", last)
	}
	out.Reset()
	log.Warn("after")
	if !strings.Contains(out.String(), `msg=after`) {
		t.Errorf("a record after the flush was held: %q", out.String())
	}
}
