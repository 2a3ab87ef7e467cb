// Package cli is the command line of stella: one thin file per command.
// Each command parses its flags, calls one function of pkg/mirror and hands
// the result to the output layer (output.go); errors become exit codes in
// exit.go only.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Execute runs stella with args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := NewRootCmd(app)
	root.SetArgs(args)
	err := execute(ctx, root)
	if app.stdLogRestore != nil {
		app.stdLogRestore()
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, errdef.ErrInternal) {
		err = interrupted
	}
	if err != nil {
		if formatFromArgs(args) == "json" {
			// An error met before the flags were parsed (an unknown flag)
			// is still reported as JSON when JSON was asked for.
			app.global.format = "json"
		}
		app.reportError(err)
	}
	return ExitCode(err)
}

// execute runs the command tree, a panic of the run (a bug) returned as an
// errdef.Panic: exit code 1 and one line, "internal error: panic: …",
// where Go's crash exited 2, the code of a digest mismatch. The command's
// deferred clean-ups have run by then.
func execute(ctx context.Context, root *cobra.Command) (err error) {
	defer errdef.Recover(&err)
	return root.ExecuteContext(ctx)
}

// interrupted is the error of a run stopped by Ctrl-C, SIGTERM or SIGHUP (exit
// 130): what stopped it and what to do, not Go's "context canceled".
// Every command may be run again: import, push and sync send only what is
// missing and wrote no tag on partial content; the others write their
// outputs whole or not at all.
var interrupted error = interruptedError{}

type interruptedError struct{}

func (interruptedError) Error() string {
	return "interrupted (Ctrl-C, SIGTERM, or a hang-up: SIGHUP): run the same command again to finish it"
}
func (interruptedError) Unwrap() error { return context.Canceled }

// NewRootCmd builds the command tree. There are no package-level command
// variables: every call returns a fresh tree bound to app.
func NewRootCmd(app *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "stella",
		Short:         "StellaOps CLI",
		Long:          "stella is the StellaOps command line. `stella mirror` moves signed releases into disconnected networks, OCI-natively.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  stella mirror --help
  stella version --format json
  source <(stella completion bash)`,
	}
	root.SetIn(app.stdin)
	root.SetOut(app.stdout)
	root.SetErr(app.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		// pflag names an unknown shorthand with the group it came in,
		// "'p' in -pVALUE": the rest may be its value, a password
		// (docker login's -pPASSWORD).
		var unknown *pflag.NotExistError
		if errors.As(err, &unknown) && unknown.GetSpecifiedShortnames() != "" && unknown.GetSpecifiedName() != "" {
			return fmt.Errorf("unknown shorthand flag: -%c: %w", []rune(unknown.GetSpecifiedName())[0], errdef.ErrUsage)
		}
		// A switch's value is true or false, a number's digits:
		// anything else may be a password put where it does not go
		// (--password-stdin=…), which pflag's words print.
		var invalid *pflag.InvalidValueError
		if errors.As(err, &invalid) {
			name, kind := invalid.GetFlag().Name, invalid.GetFlag().Value.Type()
			switch {
			case kind == "bool":
				return fmt.Errorf("--%s takes no value but true or false: %w", name, errdef.ErrUsage)
			case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint"):
				if errors.Is(err, strconv.ErrRange) {
					return fmt.Errorf("--%s takes a whole number, and the one given is out of range: %w", name, errdef.ErrUsage)
				}
				return fmt.Errorf("--%s takes a whole number: %w", name, errdef.ErrUsage)
			}
			return fmt.Errorf("--%s takes a value of type %s: %w", name, kind, errdef.ErrUsage)
		}
		// A flag of bad syntax (---password=…): its name, not what
		// follows its "=".
		var syntax *pflag.InvalidSyntaxError
		if errors.As(err, &syntax) {
			flag, _, _ := strings.Cut(syntax.GetSpecifiedFlag(), "=")
			return fmt.Errorf("bad flag syntax: %s: %w", flag, errdef.ErrUsage)
		}
		return fmt.Errorf("%v: %w", err, errdef.ErrUsage)
	})
	root.AddCommand(newVersionCmd(app), newMirrorCmd(app))
	addDefaultCommands(root)
	nameArgErrors(root)
	noteRepeats(root)
	return root
}

// nameArgErrors has every command's argument check name the command and
// its usage: cobra's own words, "accepts 2 arg(s), received 0", say neither.
func nameArgErrors(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				path := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
				// A check that already says "invalid usage" says it once,
				// after the usage line, as cobra's own do.
				msg := strings.TrimSuffix(err.Error(), ": "+errdef.ErrUsage.Error())
				return usageError("%s: %s (usage: %s)", path, msg, cmd.UseLine())
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		nameArgErrors(sub)
	}
}

func newMirrorCmd(app *app) *cobra.Command {
	cmd := &cobra.Command{
		Use: "mirror",
		// Itself it prints help, or refuses an unknown command.
		Annotations: map[string]string{registryUse: noRegistry},
		// Suggest a command within two edits of a mistyped one, as cobra
		// does for the commands it finds itself.
		SuggestionsMinimumDistance: 2,
		Short:                      "Move signed releases into disconnected networks",
		Long: `Gather a release's images (pinned by digest) and advisories into one signed
bundle that is an OCI image layout, carry it across the gap on media or through
a registry, verify it, and load it into the air-gap registry.`,
		Example: `  stella mirror create --images deploy/releases/2025.10.0-stable.yaml --output bundle/
  stella mirror doctor --registry registry.internal:5000`,
		// Runnable, so that an unknown command is an error (exit 1), not help.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				if meant := cmd.SuggestionsFor(args[0]); len(meant) > 0 {
					return usageError("unknown command %q for %q (did you mean %q?)", args[0], cmd.CommandPath(), meant[0])
				}
				return usageError("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			if app.global.format == "json" {
				// Help is text: a script that asked for one JSON document
				// gets an error it can read, not a result it cannot.
				return usageError("%s: no command given (stella mirror --help lists them)", cmd.CommandPath())
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseRepeats(cmd); err != nil {
				return err
			}
			if err := refuseFlagsAsValues(cmd); err != nil {
				return err
			}
			// A password on the command line is refused before any
			// other error of the flags: of the errors a run may have, it
			// is the one the operator must not make again.
			if err := refusePasswords(cmd, args); err != nil {
				return err
			}
			if err := app.global.validate(); err != nil {
				return err
			}
			if err := app.global.checkRegistryConfig(cmd, args, app.plainSides(cmd, args)...); err != nil {
				return err
			}
			app.routeStdLog()
			return nil
		},
	}
	app.global.bind(cmd)
	cmd.AddCommand(
		newCreateCmd(app),
		newPackCmd(app),
		newInspectCmd(app),
		newSignCmd(app),
		newVerifyCmd(app),
		newVerifyChecksumsCmd(app),
		newKeygenCmd(app),
		newImportCmd(app),
		newPushCmd(app),
		newPullCmd(app),
		newSyncCmd(app),
		newLoginCmd(app),
		newLogoutCmd(app),
		newInventoryCmd(app),
		newCatalogCmd(app),
		newServeCmd(app),
		newDoctorCmd(app),
	)
	return cmd
}

// usageError marks a command-line mistake (exit 1).
func usageError(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdef.ErrUsage)...)
}
