package remote

import "time"

// SetGatePatience sets how long a host's other requests wait for its first
// answer, for the tests; it returns the function that puts it back.
func SetGatePatience(d time.Duration) (restore func()) {
	old := gatePatience
	gatePatience = d
	return func() { gatePatience = old }
}
