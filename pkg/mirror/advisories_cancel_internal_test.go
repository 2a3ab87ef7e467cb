package mirror

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/layout"
)

// Ctrl-C while create copies a large advisory feed: the signal is caught
// (exit 130 comes from the cancelled context), so a copy that does not
// watch the context cannot be interrupted at all. addAdvisories must stop
// at once, with the context's error, not copy the feed to its end.
func TestAddAdvisoriesStopsWhenCancelled(t *testing.T) {
	adv := t.TempDir()
	feed := append(append([]byte("["), bytes.Repeat([]byte("0,"), 4<<20)...), '0', ']')
	if err := os.WriteFile(filepath.Join(adv, "nvd.json"), feed, 0o644); err != nil {
		t.Fatal(err)
	}
	stage, err := layout.Stage(filepath.Join(t.TempDir(), "bundle"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := addAdvisories(ctx, slog.New(slog.DiscardHandler), stage, adv); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
