//go:build race

package layout

// raceEnabled: under the race detector sync.Pool drops a share of what it
// is given, on purpose, so allocation counts do not hold.
const raceEnabled = true
