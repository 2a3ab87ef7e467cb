package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// refuseFlagsAsValues refuses a flag given the empty string, and one whose
// value is the name of another flag of the command (--NAME, or -X for a
// shorthand): a flag given no value takes the word after it, a flag too,
// so import --advisories-dir --quiet wrote into a directory named
// "--quiet", and the flag meant was never set. No path, reference, key or
// address an operator means is spelt as one of stella's own flags.
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
		// A value given empty, as "$VAR" of a variable not set gives it,
		// was taken as the flag left out: serve --tls-cert "" --tls-key ""
		// served plain HTTP, create --key "" wrote an unsigned archive.
		// --repo-prefix "" is no prefix, which is what it says.
		if f.Value.Type() == "string" && f.Value.String() == "" && f.Name != "repo-prefix" {
			err = usageError("--%s \"\": empty (a variable not set?): give it a value, or leave --%s out", f.Name, f.Name)
			return
		}
		values := []string{f.Value.String()}
		if s, ok := f.Value.(pflag.SliceValue); ok {
			values = s.GetSlice()
		}
		for _, v := range values {
			// The same of one value of a list (--key "" among the
			// trusted keys: refused later, after pull had gone out).
			if v == "" && f.Value.Type() != "string" && f.Name != "repo-prefix" {
				err = usageError("--%s \"\": empty (a variable not set?): give it a value, or leave --%s out", f.Name, f.Name)
				return
			}
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

// onceValue is the value of a signing key flag (--key of sign, create,
// pack and inventory; --catalog-key), noting a second value that differs
// from the first: pflag keeps the last one given and drops the others
// without a word.
type onceValue struct {
	pflag.Value
	first         string
	set, repeated bool
}

func (o *onceValue) Set(v string) error {
	if !o.set {
		o.first, o.set = v, true
	} else if v != o.first {
		o.repeated = true
	}
	return o.Value.Set(v)
}

// noteRepeats has every signing key flag of c and its subcommands that
// takes one key note a second, different one, which refuseRepeats then
// refuses. Other flags that take one value keep pflag's rule, the last
// given wins, which a wrapper's defaults rely on (stella mirror serve
// --addr 127.0.0.1:0 "$@").
func noteRepeats(c *cobra.Command) {
	for _, name := range []string{"key", "catalog-key"} {
		f := c.Flags().Lookup(name)
		if f == nil {
			continue
		}
		if _, list := f.Value.(pflag.SliceValue); list {
			continue // trusted keys: each one given counts
		}
		if _, done := f.Value.(*onceValue); !done {
			f.Value = &onceValue{Value: f.Value}
		}
	}
	for _, sub := range c.Commands() {
		noteRepeats(sub)
	}
}

// refuseRepeats refuses a signing key flag given twice with different keys:
// sign --key a.key --key b.key signed with b.key alone, where verify and
// import count every --key, and catalog refuses a second key to sign
// with. The keys are not named: one may be a key given itself.
func refuseRepeats(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if o, ok := f.Value.(*onceValue); ok && o.repeated && err == nil {
			err = usageError("--%s given twice, with different keys: give one --%s to sign with (a second signer signs in a run of their own, which adds their signature)", f.Name, f.Name)
		}
	})
	return err
}
