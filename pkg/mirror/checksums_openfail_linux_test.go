package mirror_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyChecksumsOpenFailureIsNotMissing: a listed file that is there
// but could not be opened (here: out of file descriptors, as a high
// --concurrency under a low `ulimit -n` gives) was reported "missing",
// exit 2, a bundle called damaged that was whole; it is the open's own
// error, naming the file (found by review).
func TestVerifyChecksumsOpenFailureIsNotMissing(t *testing.T) {
	dir := newBundle(t)
	priv, _ := testKeys(t, "cosign")
	sign(t, dir, priv)
	var lines strings.Builder
	data := make([]byte, 1<<20)
	for i := range 64 {
		rand.Read(data)
		name := fmt.Sprintf("advisories/many/f%03d.json", i)
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&lines, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	f, err := os.OpenFile(filepath.Join(dir, "SHA256SUMS"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(lines.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(filepath.Join(dir, "SHA256SUMS.sig"))

	testutil.WithFewDescriptors(t, 8 /* the walk and the directory handles, not 64 files at once */, func() {
		_, err = mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Concurrency: 64})
	})
	if err != nil && (strings.Contains(err.Error(), "missing") || errors.Is(err, errdef.ErrDigestMismatch)) {
		t.Errorf("verify-checksums out of file descriptors: %v; want the open's error, no file called missing", err)
	}
}
