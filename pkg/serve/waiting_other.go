//go:build !unix

package serve

import "net"

// clientWaiting reports whether a client waits in ln's listen queue:
// always true here, where it cannot be told.
func clientWaiting(net.Listener) bool { return true }
