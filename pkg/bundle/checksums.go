package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Checksum is one line of SHA256SUMS: a file's path in the bundle and the
// SHA-256 of its content.
type Checksum struct {
	Path   string
	Digest digest.Digest
}

// FormatChecksums renders SHA256SUMS in the format `sha256sum -c` reads
// ("<hex>  <path>"), sorted by path so the bytes are reproducible.
func FormatChecksums(sums []Checksum) []byte {
	sorted := append([]Checksum(nil), sums...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	for _, s := range sorted {
		fmt.Fprintf(&buf, "%s  %s\n", s.Digest.Encoded(), s.Path)
	}
	return buf.Bytes()
}

// ParseChecksums reads SHA256SUMS strictly: every line "<64 hex>  <path>",
// every path valid (ValidPath) and listed once.
func ParseChecksums(data []byte) ([]Checksum, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("SHA256SUMS: %d bytes exceeds the %d byte limit: %w", len(data), MaxManifestSize, errdef.ErrMalformed)
	}
	var sums []Checksum
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		hex, p, ok := strings.Cut(line, "  ")
		d := digest.NewDigestFromEncoded(digest.SHA256, hex)
		if !ok || d.Validate() != nil {
			return nil, fmt.Errorf("SHA256SUMS:%d: not \"<sha256>  <path>\": %w", n, errdef.ErrMalformed)
		}
		if err := ValidPath(p); err != nil {
			return nil, fmt.Errorf("SHA256SUMS:%d: %v: %w", n, err, errdef.ErrMalformed)
		}
		if seen[p] {
			return nil, fmt.Errorf("SHA256SUMS:%d: %s listed twice: %w", n, p, errdef.ErrMalformed)
		}
		seen[p] = true
		sums = append(sums, Checksum{Path: p, Digest: d})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("SHA256SUMS: %v: %w", err, errdef.ErrMalformed)
	}
	return sums, nil
}
