//go:build unix

package serve

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// clientWaiting reports whether a client waits in ln's listen queue (its
// socket is readable); true where that cannot be told.
func clientWaiting(ln net.Listener) bool {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	waiting := true
	rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(pfd, 0)
			if err == unix.EINTR {
				// A signal (Go's preemption sends SIGURG), not a
				// client: look again.
				continue
			}
			if err == nil {
				waiting = n > 0
			}
			return
		}
	})
	return waiting
}
