package cli

import "testing"

// The sizes a user types for --split: K, M, G, T with or without B, and
// the IEC KiB, MiB, GiB, TiB, in any case. 4gib was refused while 4GB
// and 4G were taken.
func TestParseSizeIECSuffixes(t *testing.T) {
	for in, want := range map[string]int64{
		"4G":      4<<30 - 1,
		"4GB":     4<<30 - 1,
		"4gib":    4<<30 - 1,
		"4GiB":    4<<30 - 1,
		"700MiB":  700 << 20,
		"700mib":  700 << 20,
		"2048KiB": 2 << 20,
		"1TiB":    1 << 40,
		"1048576": 1 << 20,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"4iB", "4ib", "4GiBB", "4Gi", "iB", "GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want refused", in, got)
		}
	}
}
