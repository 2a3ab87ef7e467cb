package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyWarnsOfBytesAfterTheArchive: bytes after the end of an
// archive, which pack never writes (junk appended by a copy, pack's seek
// table cut short), are told by verify in a warning naming the archive
// and where they lie, its signed content verified all the same (exit 0):
// they passed in silence, a .tar.zst or .tar.gz read as a stream with no
// word. The zero blocks tar pads its end with, and zeros after a
// compressed stream (a tape's last record), are not told.
func TestVerifyWarnsOfBytesAfterTheArchive(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	zeros := make([]byte, 10240)
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		packed := s.pack(t, suffix)
		data, err := os.ReadFile(packed)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			data []byte
			want string // "" for no warning
		}{
			{"as packed", data, ""},
			{"zeros appended", append(bytes.Clone(data), zeros...), ""},
			{"junk appended", append(bytes.Clone(data), "JUNKJUNK"...), "after the end of its"},
			{"junk and zeros appended", append(append(bytes.Clone(data), "JUNK"...), zeros...), "after the end of its"},
		} {
			t.Run(suffix+" "+tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "bundle"+suffix)
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
				var logs bytes.Buffer
				_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: testNow,
					Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				warned := strings.Contains(logs.String(), "not byte for byte the one pack wrote")
				switch {
				case tt.want == "" && warned:
					t.Errorf("warned of what is no trailing data: %s", logs.String())
				case tt.want != "" && (!warned || !strings.Contains(logs.String(), tt.want) || !strings.Contains(logs.String(), path)):
					t.Errorf("verify warned %q, want a warning naming %s and %q", logs.String(), path, tt.want)
				case tt.want != "" && suffix != ".tar" && !strings.Contains(logs.String(), fmt.Sprintf("%d bytes after the end of its seek table, from archive byte %d", len(tt.data)-len(data), len(data))):
					// Read at random: the table found before the bytes,
					// which are counted from where pack's archive ends.
					t.Errorf("verify of a %s with %d bytes appended warned %q; want them told after its seek table, at byte %d", suffix, len(tt.data)-len(data), logs.String(), len(data))
				}
			})
		}
		if suffix == ".tar" {
			continue
		}
		t.Run(suffix+" seek table cut short", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle"+suffix)
			if err := os.WriteFile(path, data[:len(data)-5], 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: testNow,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !strings.Contains(logs.String(), "not byte for byte the one pack wrote") {
				t.Errorf("verify of %s with its seek table cut short warned %q", suffix, logs.String())
			}
		})
	}
}

// TestImportAndPushWarnOfBytesAfterTheArchive: import and push of an
// archive with bytes after its end warn of them as verify does, naming the
// archive, and place the bundle all the same, as they place the archive
// pack wrote: they read the same archive in silence, a copy that is not
// the one published (its sha256 differs) taken with no word. A .tar.zst
// and a .tar.gz alike are read at random through their seek table, found
// before the bytes, which the warning counts from where pack's archive
// ends; every codec places the same root.
func TestImportAndPushWarnOfBytesAfterTheArchive(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	roots := map[string]any{} // suffix: the root import placed
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		t.Run(suffix, func(t *testing.T) {
			data, err := os.ReadFile(s.pack(t, suffix))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bundle"+suffix)
			if err := os.WriteFile(path, append(data, "JUNKJUNK"...), 0o644); err != nil {
				t.Fatal(err)
			}
			warned := func(verb string, logs *bytes.Buffer) {
				t.Helper()
				if !strings.Contains(logs.String(), "not byte for byte the one pack wrote") || !strings.Contains(logs.String(), "after the end of its") ||
					!strings.Contains(logs.String(), "archive="+path) {
					t.Errorf("%s of %s with bytes appended warned %q; want a warning naming the archive and the bytes after its end", verb, suffix, logs.String())
				}
				if suffix != ".tar" && (!strings.Contains(logs.String(), fmt.Sprintf("8 bytes after the end of its seek table, from archive byte %d", len(data))) ||
					strings.Contains(logs.String(), "seek table unusable")) {
					t.Errorf("%s of a %s with 8 bytes appended warned %q; want it read through its seek table and the bytes told after it, at byte %d", verb, suffix, logs.String(), len(data))
				}
			}

			var logs bytes.Buffer
			target := testutil.Registry(t)
			opts := importOpts(t, path, target, s.pub)
			opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			res, err := mirror.Import(context.Background(), opts)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			warned("import", &logs)
			assertImported(t, s, target, res)
			roots[suffix] = res.Root

			logs.Reset()
			host := testutil.Registry(t)
			pushed, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: path, Reference: host + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub),
				Client: testutil.Client(t), Transfer: transferOpts(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			warned("push", &logs)
			if pushed.Root != res.Root {
				t.Errorf("push placed root %s, import %s", pushed.Root, res.Root)
			}
			repo, err := testutil.Client(t).Repository(host + "/stellaops/mirror-bundle")
			if err != nil {
				t.Fatal(err)
			}
			if d, err := repo.Resolve(context.Background(), pushed.BundleTag); err != nil || d.Digest != res.Root {
				t.Errorf("%s/stellaops/mirror-bundle:%s resolves to %s (%v), want the root %s", host, pushed.BundleTag, d.Digest, err, res.Root)
			}
		})
	}
	for suffix, root := range roots {
		if root != roots[".tar"] {
			t.Errorf("import of the %s placed root %v, of the .tar %v", suffix, root, roots[".tar"])
		}
	}
}

// TestServeWarnsOfBytesAfterTheArchive: serve of an archive with bytes
// after its end warns of them at start-up, as verify, import and push do,
// naming the archive, and serves the bundle all the same; it took such a
// copy in silence. The zero blocks tar pads its end with are not told. A
// .tar.zst with bytes appended is served through its seek table, found
// before them, and the warning says where the archive pack wrote ends.
func TestServeWarnsOfBytesAfterTheArchive(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	data, err := os.ReadFile(s.pack(t, ".tar"))
	if err != nil {
		t.Fatal(err)
	}
	zst, err := os.ReadFile(s.pack(t, ".tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile(s.pack(t, ".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, suffix string
		data         []byte
		warn         bool
	}{
		{"as packed", ".tar", data, false},
		{"zeros appended", ".tar", append(bytes.Clone(data), make([]byte, 10240)...), false},
		{"junk appended", ".tar", append(bytes.Clone(data), "JUNKJUNK"...), true},
		// Read through its seek table: the tar's end padding lies
		// within the compressed frames.
		{"as packed", ".tar.zst", zst, false},
		// Its seek table no longer last, found before the bytes: it was
		// refused as another tool's archive, without a table.
		{"junk appended", ".tar.zst", append(bytes.Clone(zst), "JUNKJUNK"...), true},
		{"zeros appended", ".tar.zst", append(bytes.Clone(zst), make([]byte, 10240)...), false},
		// A .tar.gz's table is found before them too: it was refused.
		{"junk appended", ".tar.gz", append(bytes.Clone(gz), "JUNKJUNK"...), true},
		{"zeros appended", ".tar.gz", append(bytes.Clone(gz), make([]byte, 512)...), false},
	} {
		t.Run(tt.suffix+" "+tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle"+tt.suffix)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			b, err := mirror.OpenServed(context.Background(), mirror.ServeOptions{Path: path, Trust: trustKeys(s.pub), Now: testNow,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
			defer b.Close()
			if b.Info.Root == "" || b.Info.Blobs == 0 {
				t.Errorf("serve opened %+v, want the bundle served", b.Info)
			}
			warned := strings.Contains(logs.String(), "not byte for byte the one pack wrote")
			switch {
			case !tt.warn && warned:
				t.Errorf("serve warned of what is no trailing data: %s", logs.String())
			case tt.warn && (!warned || !strings.Contains(logs.String(), "after the end of its") || !strings.Contains(logs.String(), "archive="+path)):
				t.Errorf("serve of an archive with bytes appended warned %q; want a warning naming the archive and the bytes after its end", logs.String())
			case tt.warn && tt.suffix == ".tar.zst" && !strings.Contains(logs.String(), fmt.Sprintf("8 bytes after the end of its seek table, from archive byte %d", len(zst))):
				t.Errorf("serve of a .tar.zst with 8 bytes appended warned %q; want them told after its seek table, at byte %d", logs.String(), len(zst))
			}
		})
	}
}
