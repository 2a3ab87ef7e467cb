package cli

import (
	"context"
	"errors"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Exit codes of the StellaOps offline CLI (DESIGN.md).
const (
	ExitOK          = 0
	ExitInput       = 1
	ExitDigest      = 2
	ExitExpired     = 3
	ExitSignature   = 5
	ExitGeneration  = 8
	ExitMalformed   = 11
	ExitInterrupted = 130
)

// ExitCode maps an error to its exit code. This is the one place that does;
// it matches sentinels with errors.Is, never message text. The order
// matters where an error carries two meanings: the more specific wins.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errdef.ErrInternal):
		// A bug (a recovered panic): whatever else it carries, not
		// 2 (a digest mismatch), Go's own code for a crash.
		return ExitInput
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, errdef.ErrSignature):
		return ExitSignature
	case errors.Is(err, errdef.ErrDigestMismatch):
		return ExitDigest
	case errors.Is(err, errdef.ErrExpired), errors.Is(err, errdef.ErrOutOfDate):
		return ExitExpired
	case errors.Is(err, errdef.ErrGeneration):
		return ExitGeneration
	case errors.Is(err, errdef.ErrMalformed):
		return ExitMalformed
	}
	return ExitInput
}
