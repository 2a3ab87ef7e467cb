package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newLoginCmd(app *app) *cobra.Command {
	var (
		opts          mirror.LoginOptions
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login HOST -u USER --password-stdin",
		Short: "Save registry credentials in docker's config.json",
		Long: `Check credentials against a registry and save them where docker, oras and
stella read them: docker's config.json (or its credential helper). The password
is read from stdin, never from the command line. A config.json that is a
symlink is written through, as docker does: the file it names is replaced, or
made where the link points to nothing yet. Run as root over another user's
config.json (sudo keeping HOME), it stays that user's, mode 0600; logout too.`,
		Example: `  echo "$REGISTRY_PASSWORD" | stella mirror login registry.internal:5000 -u mirror --password-stdin`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !passwordStdin {
				return usageError("login needs --password-stdin (a password on the command line would end up in shell history)")
			}
			line, err := readLine(cmd.Context(), app.stdin)
			if err != nil {
				return err
			}
			opts.Registry, opts.Password = args[0], strings.TrimRight(line, "\r\n")
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			if err := mirror.Login(cmd.Context(), opts); err != nil {
				return err
			}
			return app.emit(map[string]string{"registry": opts.Registry, "status": "logged in"}, func(w io.Writer) {
				fmt.Fprintf(w, "Login to %s succeeded\n", opts.Registry)
			})
		},
	}
	cmd.Flags().StringVarP(&opts.Username, "username", "u", "", "user name (required)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

func newLogoutCmd(app *app) *cobra.Command {
	return &cobra.Command{
		Use:     "logout HOST",
		Short:   "Remove registry credentials from docker's config.json",
		Example: `  stella mirror logout registry.internal:5000`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := app.remoteClient()
			if err != nil {
				return err
			}
			removed, err := mirror.Logout(cmd.Context(), client, args[0])
			if err != nil {
				return err
			}
			status, text := "logged out", "Removed credentials for "+args[0]
			if !removed {
				status, text = "not logged in", "No credentials stored for "+args[0]+": nothing removed"
			}
			return app.emit(map[string]string{"registry": args[0], "status": status}, func(w io.Writer) {
				fmt.Fprintln(w, text)
			})
		},
	}
}
