package layout

import (
	"os"
	"path/filepath"
	"testing"
)

// killedSplitPack leaves a new directory as a pack --split of 17000 bytes
// into 4096-byte volumes (5) stopped before its list took its name (its
// record beside them), and returns the archive's path.
func killedSplitPack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	list := writeVolumes(t, dir, make([]byte, 17000), 4096)
	data, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.tar")
	if err := MarkPending(out, data); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVolumeInTheWay: the volumes a split pack stopped before its list
// took its name placed are told from anyone else's by the record it wrote
// first (MarkPending): each must be one it names, of its size and (with
// hash) its digest. Anything else is in the way of a run without --force.
func TestVolumeInTheWay(t *testing.T) {
	killed := func(t *testing.T) string { return killedSplitPack(t) }
	vol := func(out string, i int) string { return VolumeName(out, i) }
	for _, tt := range []struct {
		name     string
		setup    func(t *testing.T, out string)
		n        int
		hash     bool
		inTheWay int // -1: none
	}{
		{"killed at the list", func(*testing.T, string) {}, 1, true, -1},
		{"killed at the list, a larger set next", func(*testing.T, string) {}, 7, true, -1},
		{"killed at volume 2", func(t *testing.T, out string) { os.Remove(vol(out, 2)); os.Remove(vol(out, 3)); os.Remove(vol(out, 4)) }, 5, true, -1},
		{"no record", func(t *testing.T, out string) { ClearPending(out) }, 1, false, 0},
		{"the list took its name", func(t *testing.T, out string) { os.WriteFile(out+VolumesSuffix, []byte("{}"), 0o644) }, 1, false, 0},
		{"record does not parse", func(t *testing.T, out string) { os.WriteFile(pendingPath(out), []byte("{}"), 0o644) }, 1, false, 0},
		{"a byte changed", func(t *testing.T, out string) { flip(t, vol(out, 3)) }, 1, true, 3},
		{"a byte changed, sizes only", func(t *testing.T, out string) { flip(t, vol(out, 3)) }, 1, false, -1},
		{"a size changed", func(t *testing.T, out string) { os.Truncate(vol(out, 1), 100) }, 1, false, 1},
		{"a volume past the record", func(t *testing.T, out string) { os.WriteFile(vol(out, 5), []byte("x"), 0o644) }, 1, false, 5},
		{"a symlink", func(t *testing.T, out string) {
			os.Rename(vol(out, 0), out+".elsewhere")
			os.Symlink(out+".elsewhere", vol(out, 0))
		}, 1, true, 0},
		// Past a gap, a file the set of n would take the name of.
		{"another's past a gap", func(t *testing.T, out string) {
			os.Remove(vol(out, 4))
			os.Rename(vol(out, 3), out+".003.keep")
			os.WriteFile(vol(out, 6), []byte("not ours"), 0o644)
		}, 7, false, 6},
		{"another's past a gap, beyond the set", func(t *testing.T, out string) {
			os.Remove(vol(out, 4))
			os.Rename(vol(out, 3), out+".003.keep")
			os.WriteFile(vol(out, 6), []byte("not ours"), 0o644)
		}, 3, false, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := killed(t)
			tt.setup(t, out)
			want := ""
			if tt.inTheWay >= 0 {
				want = vol(out, tt.inTheWay)
			}
			if got := VolumeInTheWay(out, tt.n, tt.hash); got != want {
				t.Errorf("VolumeInTheWay(n %d, hash %v) = %q, want %q", tt.n, tt.hash, got, want)
			}
		})
	}
	// Not even a record makes a volume of another archive ours.
	out := killed(t)
	other := filepath.Join(filepath.Dir(out), "c.tar")
	os.WriteFile(VolumeName(other, 0), []byte("x"), 0o644)
	if got := VolumeInTheWay(other, 1, true); got != VolumeName(other, 0) {
		t.Errorf("c.tar.000 beside the record of b.tar: %q", got)
	}
}

func flip(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
