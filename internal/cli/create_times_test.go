package cli

import (
	"strings"
	"testing"
)

// --valid-for in days was multiplied without a bound: 213504d wrapped to
// 25 minutes and 300000d to about 236 years, each taken without a word.
// A SOURCE_DATE_EPOCH that does not parse, or that no manifest.json holds
// (0: generation 0), was refused naming a "time", or once every blob was
// fetched. Each is refused up front naming the input (found by review).
func TestCreateTimesRefusedByName(t *testing.T) {
	for _, tt := range []struct {
		env, validFor, want string
	}{
		{validFor: "213504d", want: `--valid-for "213504d"`},
		{validFor: "300000d", want: `--valid-for "300000d"`},
		{env: "1.7e9", want: "SOURCE_DATE_EPOCH=1.7e9: want RFC 3339 or Unix seconds"},
		{env: "0", want: "SOURCE_DATE_EPOCH=0: the creation time must be after 1970-01-01"},
		{env: "253402300800", want: "SOURCE_DATE_EPOCH=253402300800: the creation time must be after 1970-01-01 and before the year 10000"},
	} {
		t.Setenv("SOURCE_DATE_EPOCH", tt.env)
		f := createFlags{images: "r.yaml", output: "out", validFor: tt.validFor}
		if _, err := f.options(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q --valid-for %q: %v, want it refused saying %q", tt.env, tt.validFor, err, tt.want)
		}
	}
	f := createFlags{images: "r.yaml", output: "out", validFor: "36500d"}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if opts, err := f.options(); err != nil || opts.ValidFor.Hours() != 36500*24 {
		t.Errorf("--valid-for 36500d: %v, %v", opts.ValidFor, err)
	}
}
