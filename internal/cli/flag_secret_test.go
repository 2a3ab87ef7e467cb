package cli

import (
	"strings"
	"testing"
)

// TestUnknownShorthandValueNeverPrinted: an unknown shorthand flag with
// its value attached (docker login's -pPASSWORD, which stella has not) is
// refused naming the flag, never the value: pflag's words,
// "unknown shorthand flag: 'p' in -ps3cret", printed the password (found
// by review).
func TestUnknownShorthandValueNeverPrinted(t *testing.T) {
	code, _, stderr := run(t, "mirror", "login", "registry.example:5000", "-u", "mirror", "-ps3cret-never-shown")
	if code != ExitInput || strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, "unknown shorthand flag: -p") {
		t.Errorf("exit %d, stderr %q; want the flag -p named, its value not", code, stderr)
	}
}

// TestSwitchValueNeverPrinted: a value given to a switch that takes none
// but true or false (--password-stdin=PASSWORD) is refused naming the
// switch, never the value: pflag's words, "invalid argument "PASSWORD"
// for "--password-stdin" flag", printed the password (found by review).
func TestSwitchValueNeverPrinted(t *testing.T) {
	code, _, stderr := run(t, "mirror", "login", "registry.example:5000", "-u", "mirror", "--password-stdin=s3cret-never-shown")
	if code != ExitInput || strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, "--password-stdin") {
		t.Errorf("exit %d, stderr %q; want --password-stdin named, its value not", code, stderr)
	}
}

// TestFlagValueNeverPrinted: a value that is not a number given to a flag
// that takes one (--concurrency, --retries, --threshold), or a flag of bad
// syntax (---password=…), is refused naming the flag, never the value: a
// password put where it does not go. pflag's words, "invalid argument
// "PASSWORD" for "--concurrency" flag: strconv.ParseInt: parsing
// "PASSWORD": invalid syntax" and "bad flag syntax: ---password=PASSWORD",
// printed it (found by review).
func TestFlagValueNeverPrinted(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mirror", "login", "registry.example:5000", "-u", "mirror", "--concurrency=s3cret-never-shown"}, "--concurrency takes a whole number"},
		{[]string{"mirror", "login", "registry.example:5000", "--retries", "s3cret-never-shown"}, "--retries takes a whole number"},
		{[]string{"mirror", "verify", "bundle/", "--threshold=s3cret-never-shown"}, "--threshold takes a whole number"},
		{[]string{"mirror", "login", "registry.example:5000", "-u", "mirror", "---password=s3cret-never-shown"}, "bad flag syntax: ---password"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != ExitInput || strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q, the value never", tt.args, code, stderr, tt.want)
		}
	}
}
