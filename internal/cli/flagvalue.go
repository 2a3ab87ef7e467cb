package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// refuseFlagsAsValues refuses a flag whose value is the name of another
// flag of the command (--NAME, or -X for a shorthand): a flag given no
// value takes the word after it, a flag too, so import --advisories-dir
// --quiet wrote into a directory named "--quiet", and the flag meant was
// never set. No path, reference, key or address an operator means is
// spelt as one of stella's own flags.
func refuseFlagsAsValues(cmd *cobra.Command) error {
	flags := cmd.Flags()
	isFlag := func(v string) bool {
		if name, ok := cutDashes(v, "--"); ok {
			return flags.Lookup(name) != nil
		}
		if short, ok := cutDashes(v, "-"); ok && len(short) == 1 {
			return flags.ShorthandLookup(short) != nil
		}
		return false
	}
	var err error
	flags.Visit(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		values := []string{f.Value.String()}
		if s, ok := f.Value.(pflag.SliceValue); ok {
			values = s.GetSlice()
		}
		for _, v := range values {
			if isFlag(v) {
				err = usageError("--%s %q: a flag, not a value (--%s was given none, so it took the flag after it)", f.Name, v, f.Name)
				return
			}
		}
	})
	return err
}

// cutDashes returns v without its leading dashes and whether it began
// with exactly those, no third dash after them.
func cutDashes(v, dashes string) (string, bool) {
	if len(v) <= len(dashes) || v[:len(dashes)] != dashes || v[len(dashes)] == '-' {
		return "", false
	}
	return v[len(dashes):], true
}
