package mirror

import (
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
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

func sortDigests(ds []digest.Digest) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
}
