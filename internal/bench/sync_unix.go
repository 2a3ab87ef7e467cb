//go:build unix

package main

import "syscall"

// syncDisks writes every dirty page out, so a run does not pay for the
// writeback of the runs before it.
func syncDisks() { syscall.Sync() }
