package mirror

import (
	"testing"

	"github.com/stellaops/mirror/pkg/layout"
)

// A compressed archive not in pack order is scanned whole for its
// manifests before any signed size is known. The bound used to be
// layout.DefaultTarLimit whatever the archive: `tar -czf` of any bundle
// over a gigabyte could not be imported. It grows with the archive on
// the media; a bomb (small on the media) still meets the default.
func TestScanLimit(t *testing.T) {
	for _, tt := range []struct{ size, want int64 }{
		{0, layout.DefaultTarLimit},       // size unknown
		{4 << 20, layout.DefaultTarLimit}, // the tamper corpus's gzip bomb
		{20 << 30, 64 * (20 << 30)},       // a real 20 GiB archive
		{layout.DefaultTarLimit, 64 * layout.DefaultTarLimit},
	} {
		if got := scanLimit(tt.size); got != tt.want {
			t.Errorf("scanLimit(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}
