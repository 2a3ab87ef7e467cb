//go:build !unix

package main

// syncDisks does nothing where there is no sync(2): runs there may pay for
// the writeback of those before them.
func syncDisks() {}
