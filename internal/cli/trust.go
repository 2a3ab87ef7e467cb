package cli

import (
	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

// trustFlags are the flags that say whose signatures are trusted:
// --key (repeatable), --trust-root (repeatable) and, where several
// signatures can count, --threshold. verify uses them; import, serve and
// pull take the same.
type trustFlags struct {
	keys      []string
	roots     []string
	threshold int
	// withThreshold says --threshold was bound.
	withThreshold bool
	// prefix is the flags' ("bundle-" for --bundle-key).
	prefix string
}

// bind adds the flags to cmd; withThreshold adds --threshold.
func (f *trustFlags) bind(cmd *cobra.Command, withThreshold bool) {
	f.bindAs(cmd, "", "", withThreshold)
}

// bindBundle adds the same flags as --bundle-key, --bundle-trust-root and
// --bundle-threshold, for a command whose --key is its own signing key
// (inventory, catalog): whose signatures make a bundle root of the bundle
// repository count.
func (f *trustFlags) bindBundle(cmd *cobra.Command) {
	f.bindAs(cmd, "bundle-", "only bundle roots signed so are counted; ", true)
}

// bindAs binds the flags with names prefixed by prefix and usages by
// usage.
func (f *trustFlags) bindAs(cmd *cobra.Command, prefix, usage string, withThreshold bool) {
	fl := cmd.Flags()
	f.prefix = prefix
	fl.StringArrayVar(&f.keys, prefix+"key", nil, usage+"trusted public key: a PEM file (cosign.pub), env://VAR, or hashivault://KEY (repeatable)")
	fl.StringArrayVar(&f.roots, prefix+"trust-root", nil, usage+"PEM file of trusted root CAs: certificates carried in the bundle must chain to one (repeatable)")
	if f.withThreshold = withThreshold; withThreshold {
		fl.IntVar(&f.threshold, prefix+"threshold", 1, usage+"distinct trusted keys that must have signed (2 for two-person approval)")
	}
}

// options returns the trust the flags describe. It refuses a threshold
// below 1 (0 would read as "no signature needed", and meant 1), and one
// above 1 with nobody trusted (mirror.TrustOptions.Check); whether no key
// at all is acceptable is the command's call.
func (f *trustFlags) options() (mirror.TrustOptions, error) {
	if f.withThreshold && f.threshold < 1 {
		return mirror.TrustOptions{}, usageError("--%sthreshold %d: must be at least 1", f.prefix, f.threshold)
	}
	t := mirror.TrustOptions{Keys: f.keys, TrustRoots: f.roots, Threshold: f.threshold, FlagPrefix: f.prefix}
	if f.prefix != "" && f.threshold > 1 && t.Empty() {
		// TrustOptions.Check would name the unprefixed flags.
		return mirror.TrustOptions{}, usageError("--%sthreshold %d needs --%skey or --%strust-root", f.prefix, f.threshold, f.prefix, f.prefix)
	}
	return t, t.Check()
}

// required is options for a command that must trust someone.
func (f *trustFlags) required() (mirror.TrustOptions, error) {
	t, err := f.options()
	if err == nil && t.Empty() {
		err = usageError("no trusted key: give --key PUB or --trust-root ROOT.pem")
	}
	return t, err
}

// bindAgeFlags adds --allow-expired and --allow-rollback, which import,
// push and sync take alike: without them a bundle past its expiry, or
// older than the one the destination repository holds, is refused.
func bindAgeFlags(cmd *cobra.Command, expired, rollback *bool, verb string) {
	cmd.Flags().BoolVar(expired, "allow-expired", false, verb+" a bundle past its expiry")
	cmd.Flags().BoolVar(rollback, "allow-rollback", false, verb+" a bundle older than the one the registry holds")
}
