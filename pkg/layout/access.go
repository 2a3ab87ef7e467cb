package layout

import (
	"errors"
	"fmt"
	"io/fs"
)

// readDeniedAdvice is what to do about a file the system refuses to let
// this user read: no copy onto other media mends that.
const readDeniedAdvice = "this user may not read the file: check its permissions and ownership, and its directories' (ls -l, ls -ld), or run the command as a user who may read it"

// ReadDenied returns err, told as a file the user running stella may not
// open or read (EACCES, EPERM: a file chmod 000 or another user's, a
// network share whose credentials expired), if it is one: one line naming
// the file, with what to do; it stays errors.Is fs.ErrPermission (exit 1).
// nil if err is none.
func ReadDenied(err error) error {
	var pe *fs.PathError
	if err == nil || !errors.As(err, &pe) || !errors.Is(pe.Err, fs.ErrPermission) {
		return nil
	}
	return fmt.Errorf("%w (%s)", pe, readDeniedAdvice)
}
