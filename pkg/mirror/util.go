package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/transfer"
)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// transferOptionsFor is the zero transfer.Options with a concurrency.
func transferOptionsFor(n int) transfer.Options { return transfer.Options{Concurrency: n} }

func concurrency(n int) int {
	if n <= 0 {
		return transfer.DefaultConcurrency
	}
	return n
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// readBounded reads at most limit bytes of r, refusing more.
func readBounded(r io.Reader, limit int64, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: exceeds the %d byte limit: %w", name, limit, errdef.ErrMalformed)
	}
	return data, nil
}

// readFileBounded reads the file at path, named name in errors: at most
// limit bytes, a larger one refused (errdef.ErrMalformed) once limit+1
// bytes of it are read, not after all of them. A file not there is
// errdef.ErrNotFound.
func readFileBounded(path, name string, limit int64) ([]byte, error) {
	f, err := layout.OpenRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, errdef.ErrNotFound)
	}
	if denied := layout.ReadDenied(err); denied != nil {
		return nil, denied
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	return readBounded(f, limit, name)
}

func sortDigests(ds []digest.Digest) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
}

// isInside reports whether path is dir or lies below it, symlinks of their
// existing parts resolved; path need not exist yet.
func isInside(dir, path string) (bool, error) {
	root, err := resolveAncestors(dir)
	if err != nil {
		return false, err
	}
	p, err := resolveAncestors(path)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)), nil
}

// resolveAncestors is path made absolute with the symlinks of its longest
// existing ancestor resolved; the rest need not exist yet.
func resolveAncestors(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			for i := len(rest) - 1; i >= 0; i-- {
				real = filepath.Join(real, rest[i])
			}
			return real, nil
		}
		if filepath.Dir(p) == p {
			return abs, nil
		}
		rest = append(rest, filepath.Base(p))
	}
}

// writeLock takes dir's writers' lock (layout.LockDir) for a command that
// writes several files there that only make sense together, saying so on
// log while another stella process holds it.
func writeLock(ctx context.Context, dir string, log *slog.Logger) (func(), error) {
	return layout.LockDir(ctx, dir, func() { log.Warn("waiting for another stella process writing there", "dir", dir) })
}

// readLock takes a bundle directory's lock shared with other readers
// (layout.ReadLockDir), saying so on log while a writer holds it.
func readLock(ctx context.Context, dir string, log *slog.Logger) (func(), error) {
	return layout.ReadLockDir(ctx, dir, func() { log.Warn("waiting for another stella process writing the bundle", "dir", dir) })
}

// removeStaleOutputs removes the temporary files (.NAME.tmp-N) that a run
// killed before their renames (SIGKILL, a power cut) left beside each of
// the small files paths (layout.RemoveStaleOutput): never read as output,
// they were left for good, an envelope or catalog each. Call it under the
// directory's writers' lock.
func removeStaleOutputs(paths ...string) error {
	for _, p := range paths {
		if err := layout.RemoveStaleOutput(p); err != nil {
			return err
		}
	}
	return nil
}
