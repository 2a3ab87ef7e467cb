package cli

import "github.com/spf13/cobra"

// addDefaultCommands adds cobra's own help and completion commands to the
// tree now rather than at execution, so that they carry examples and the
// generated reference (docs/cli) shows them.
func addDefaultCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  stella help mirror import"
		case "completion":
			c.Example = `  source <(stella completion bash)
  stella completion zsh > "${fpath[1]}/_stella"
  stella completion fish > ~/.config/fish/completions/stella.fish`
			// Runnable, so that an unknown shell is an error (its Args
			// refuse any), not help.
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			for _, sh := range c.Commands() {
				sh.Example = "  stella completion " + sh.Name() + " > stella-completion." + sh.Name()
			}
		}
	}
}

// completeFormat offers the values of --format.
func completeFormat(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}
