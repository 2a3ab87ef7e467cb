// Package mirror holds the operations of `stella mirror`: create, pack,
// inspect, sign, verify, import, push, pull, sync. Each takes an options
// struct (with a written meaning for every zero value) and returns a result
// value; none prints, exits or imports the CLI. Logs go to an injected
// *slog.Logger, progress to transfer.Progress hooks.
package mirror
