package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreateRefusesReleaseTooLargeForOneBundle: a release whose
// manifest.json would be too large to sign within the bound every reader
// holds an envelope to (here: 3000 advisory files with paths of about 850
// bytes) was written whole, and failed only at the next step (sign or
// pack, found by review). create now refuses it, naming the size and the
// counts, and writes nothing.
func TestCreateRefusesReleaseTooLargeForOneBundle(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	deep := filepath.Join(advisories, strings.Repeat("d", 200), strings.Repeat("e", 200), strings.Repeat("f", 200), strings.Repeat("g", 200))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if err := os.WriteFile(filepath.Join(deep, fmt.Sprintf("advisory-%05d.json", i)), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "bundle")
	_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out))
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "release too large for one bundle") {
		t.Fatalf("err = %v, want a usage error saying the release is too large", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
