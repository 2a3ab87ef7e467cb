//go:build race

package bundle

// raceEnabled: the race detector instruments allocation and sync.Pool
// drops a share of what it is given, so allocation counts do not hold.
const raceEnabled = true
