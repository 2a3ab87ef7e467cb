package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A file manifest.json does not name, or a blob no manifest of the bundle
// reaches, is not part of the bundle: verify refuses it (exit 11), and so
// did an import of another tool's .tar.gz, read as a stream. import, push
// and serve of the same bundle as a directory or a plain tar took it,
// passed over, and import wrote every tag (found by review). Each now
// refuses it before anything is sent, naming it.
func TestEntriesNotPartOfTheBundleRefusedWhateverCarriesThem(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	junk := []byte("carried, but no part of the bundle\n")
	for name, stray := range map[string]string{
		"advisory": "advisories/zz-unlisted.json",
		"blob":     "blobs/sha256/" + digest.FromBytes(junk).Encoded(),
	} {
		dir := copyBundle(t, s.dir)
		if err := os.WriteFile(filepath.Join(dir, stray), junk, 0o644); err != nil {
			t.Fatal(err)
		}
		plain := packDir(t, dir)
		for kind, src := range map[string]string{"directory": dir, "tar": plain, "foreign.tar.gz": testutil.ForeignArchive(t, plain, "bundle.tar.gz")} {
			t.Run(name+" in a "+kind, func(t *testing.T) {
				ctx := context.Background()
				want := func(op string, err error) {
					t.Helper()
					if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), stray) || !strings.Contains(err.Error(), "not part of the bundle") && !strings.Contains(err.Error(), "no manifest of the bundle reaches it") {
						t.Errorf("%s: %v, want it refused as malformed naming %s", op, err, stray)
					}
					// serve said "FILE: FILE: archive entry …" (found by review).
					if err != nil && strings.Contains(err.Error(), src+": "+src+": ") {
						t.Errorf("%s: %v names %s twice", op, err, src)
					}
				}
				target := testutil.Registry(t)
				_, err := mirror.Import(ctx, importOpts(t, src, target, s.pub))
				want("import", err)
				_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: src, Reference: target + "/stellaops/mirror-bundle",
					Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
				want("push", err)
				if tags := testutil.Tags(t, target); len(tags) != 0 {
					t.Errorf("import and push of a bundle holding %s wrote %v", stray, tags)
				}
				if kind != "foreign.tar.gz" { // it cannot be served
					b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: src, Trust: trustKeys(s.pub), Now: testNow})
					if err == nil {
						b.Close()
					}
					want("serve", err)
				}
			})
		}
	}
}
