package layout

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestNotAVolumeOfAnUnfinishedPack: a volume a pack --split killed before
// its list took its name placed (its record, .b.tar.volumes.pending, beside
// it, no list) is refused as one volume of a split archive whose pack did
// not finish, naming the list never written and saying to run the pack
// again (errdef.ErrUsage, exit 1). It was read as an archive of its own:
// import and inspect of b.tar.000, the first file on the medium, failed
// "archive entry … is truncated" (exit 11), a damaged medium, with no word
// of the pack.
func TestNotAVolumeOfAnUnfinishedPack(t *testing.T) {
	out := killedSplitPack(t)
	err := NotAVolume(VolumeName(out, 0))
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "pack --split") || !strings.Contains(err.Error(), out+VolumesSuffix) {
		t.Errorf("a volume of a pack --split that did not finish: %v, want a usage error naming %s and the pack", err, out+VolumesSuffix)
	}
	// Without the record, the volumes beside it still say what it is
	// (the list not copied with them): read alone it was "truncated".
	if err := ClearPending(out); err != nil {
		t.Fatal(err)
	}
	err = NotAVolume(VolumeName(out, 0))
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), VolumeName(out, 1)) || !strings.Contains(err.Error(), out+VolumesSuffix) {
		t.Errorf("a volume, no list and no record beside it, the next volume there: %v, want a usage error naming %s and the list", err, VolumeName(out, 1))
	}
	// Alone, with no list, record or other volume, a file so named is
	// anyone's: read as given.
	for i := 1; i < 5; i++ {
		if err := os.Remove(VolumeName(out, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := NotAVolume(VolumeName(out, 0)); err != nil {
		t.Errorf("a file named as a volume, no list, record or other volume beside it: %v", err)
	}
}

// TestNotThereListOfAnUnfinishedPack: the volume list of a pack --split
// killed before it took its name, its volumes and record there, is not
// there, saying that pack did not finish and to run it again (exit 1, as
// for any path not there). import and verify of it said only "not found",
// of a list the operator had seen pack about to write.
func TestNotThereListOfAnUnfinishedPack(t *testing.T) {
	out := killedSplitPack(t)
	list := out + VolumesSuffix
	err := NotThere(list)
	if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), "pack --split") || !strings.Contains(err.Error(), pendingPath(out)) {
		t.Errorf("the list of a pack --split that did not finish: %v, want not found, naming the pack and %s", err, pendingPath(out))
	}
	if err := ClearPending(out); err != nil {
		t.Fatal(err)
	}
	if err := NotThere(list); err == nil || strings.Contains(err.Error(), "pack --split") {
		t.Errorf("a list not there, no record: %v", err)
	}
}
