package transfer

import (
	"errors"
	"fmt"
	"os"

	"github.com/stellaops/mirror/pkg/layout"
)

// mediumFault returns err, told as the fault of the medium the bundle is
// read from, if it is one: a read of the source that failed (an
// *os.PathError naming its file: an unreadable sector, EIO; a stick
// pulled out), which the HTTP transport reports as its own when it broke
// a request's body (`Put "…": readfrom tcp …: read FILE: input/output
// error`). A read the system refuses (EACCES, EPERM) is the file's
// permissions, not the medium: told so (layout.ReadDenied). It is not
// retried: a local file's error does not mend by
// trying again, as remote.IsTransient holds. nil if err is none.
func mediumFault(err error) error {
	var pe *os.PathError
	if err == nil || !errors.As(err, &pe) {
		return nil
	}
	if denied := layout.ReadDenied(pe); denied != nil {
		return denied
	}
	return fmt.Errorf("%w (the medium failed as it was read: copy the bundle again onto sound media, check its sha256sum against the published one, then run the command again, which sends only what is missing)", pe)
}
