//go:build !linux

package layout

import "errors"

// exchange is Linux's renameat2 RENAME_EXCHANGE; elsewhere the caller
// falls back to two renames.
func exchange(a, b string) error { return errors.ErrUnsupported }
