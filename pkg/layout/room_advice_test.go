package layout

import (
	"strings"
	"testing"
)

// TestNoSpaceAdviceLeavesRoomForTheList: the --split SIZE advised for a
// full medium is what it took less room for the volume list (written
// before the volumes) and the file system's blocks. A medium that took
// exactly 2 MiB was told --split 2M, a volume that, beside its list, does
// not fit the medium it was advised for.
func TestNoSpaceAdviceLeavesRoomForTheList(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		took, volume int64
		want         string
	}{
		{2 * mib, 0, "pack --split 1M and carry"},
		{2*mib - 4096, 0, "pack --split 1M and carry"},
		{50 * mib, 0, "pack --split 49M and carry"},
		{50*mib + 512<<10, 0, "pack --split 50M and carry"},
		{2 * mib, 3 * mib, "less than one volume of --split 3M: pack --split 1M"},
		{mib, 0, "pack --split SIZE onto several"}, // no volume of 1M fits beside its list
	} {
		got := (&NoSpaceError{Path: "/media/usb/bundle.tar", Took: tt.took, Volume: tt.volume}).Error()
		if !strings.Contains(got, tt.want) {
			t.Errorf("took %d, volume %d: %q, want %q", tt.took, tt.volume, got, tt.want)
		}
	}
}
