// Package errdef holds the sentinel errors shared by every layer of StellaOps
// Mirror. Callers wrap them with %w and the culprit (file, digest or
// reference); the CLI maps them to exit codes in one place, so errors.Is must
// keep working through every layer. Nothing here imports another package of
// this module.
package errdef

import (
	"errors"
	"fmt"
	"runtime/debug"
)

var (
	// ErrNotFound means an input (file, image, blob, key, bundle) does not
	// exist. Exit code 1.
	ErrNotFound = errors.New("not found")

	// ErrUsage means the command line or options are wrong. Exit code 1.
	ErrUsage = errors.New("invalid usage")

	// ErrUnavailable means a registry could not be reached or kept failing
	// after retries. Exit code 1.
	ErrUnavailable = errors.New("registry unavailable")

	// ErrDigestMismatch means content did not hash to its descriptor's digest
	// or did not have its descriptor's size, or a checksum list disagreed with
	// a file. Exit code 2.
	ErrDigestMismatch = errors.New("digest mismatch")

	// ErrExpired means a bundle's expiresAt has passed. Exit code 3.
	ErrExpired = errors.New("bundle expired")

	// ErrOutOfDate means a signed list no longer describes what it lists:
	// a catalog that leaves out a bundle its repository holds, newer than
	// any it names. Exit code 3, as an expired bundle: a statement that
	// was true once and must not pass as current.
	ErrOutOfDate = errors.New("out of date")

	// ErrSignature means a signature is missing, does not verify, or was made
	// by a key that is not trusted. Exit code 5.
	ErrSignature = errors.New("signature verification failed")

	// ErrGeneration means a bundle's mirrorGeneration is older than the one
	// the target already holds. Exit code 8.
	ErrGeneration = errors.New("generation not newer than the one already imported")

	// ErrMalformed means an input does not have the documented shape: a bundle,
	// release file, manifest, envelope or archive entry that breaks the
	// format or one of its bounds. Exit code 11.
	ErrMalformed = errors.New("malformed")

	// ErrNewerFormat means an input was written in a format version newer
	// than this stella reads: a manifest.json, volume list, inventory or
	// catalog whose schemaVersion, or a bundle whose artifactType version,
	// is above the one this binary knows. It wraps ErrMalformed (exit code
	// 11: to this binary the input is malformed), and its message says to
	// upgrade stella on the side that reads it.
	ErrNewerFormat error = newerFormat{}

	// ErrExists means an output already exists and would be overwritten.
	// Exit code 1.
	ErrExists = errors.New("already exists")

	// ErrInternal means stella itself failed: a panic, a bug, recovered
	// (Recover) so that the run ends with one line saying so and exit code
	// 1. Unrecovered, Go's crash exits 2, the code of a digest mismatch: a
	// script took a crash for a tampered bundle.
	ErrInternal = errors.New("internal error")
)

// Panic is a panic recovered as an error (Recover): its value and the stack
// of the goroutine that panicked, for the CLI to print when asked. It wraps
// ErrInternal alone, whatever its value: a panic carrying an error is a
// bug, never that error's exit code.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("internal error: panic: %v", p.Value) }
func (p *Panic) Unwrap() error { return ErrInternal }

// Recover, deferred directly (defer errdef.Recover(&err)), turns a panic of
// the function that deferred it into *err, a *Panic. Workers started with
// go or an errgroup defer it: errgroup does not carry a panic to Wait, and
// a panic no one recovers ends the process with exit code 2.
func Recover(err *error) {
	if v := recover(); v != nil {
		*err = &Panic{Value: v, Stack: debug.Stack()}
	}
}

// newerFormat is ErrNewerFormat: a kind of ErrMalformed.
type newerFormat struct{}

func (newerFormat) Error() string { return "newer format" }
func (newerFormat) Unwrap() error { return ErrMalformed }
