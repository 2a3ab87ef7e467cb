package cli

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestCreateFutureTimeRefused: a createdAt ahead of the clock (a year
// mistyped in --created, 2205 for 2025; SOURCE_DATE_EPOCH in some other
// unit that still parses as seconds before the year 10000) was taken as
// it is: the bundle's generation, createdAt in Unix seconds, was then
// above that of every bundle made until that date, so the far side that
// imported it refused each later one as not newer (exit 8), and its
// expiresAt lay past the date too. It is refused before anything is
// fetched, naming where it came from; a few hours ahead, a clock a little
// behind, is still taken.
func TestCreateFutureTimeRefused(t *testing.T) {
	now := time.Now().UTC()
	for _, tt := range []struct {
		env, created, want string
	}{
		{created: "2205-10-01T00:00:00Z", want: `--created=2205-10-01T00:00:00Z: the creation time is after this machine's clock`},
		{env: strconv.FormatInt(now.Add(400*24*time.Hour).Unix(), 10), want: "SOURCE_DATE_EPOCH=" + strconv.FormatInt(now.Add(400*24*time.Hour).Unix(), 10) + ": the creation time is after this machine's clock"},
	} {
		t.Setenv("SOURCE_DATE_EPOCH", tt.env)
		f := createFlags{images: "r.yaml", output: "out", created: tt.created}
		if _, err := f.options(); !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q --created %q: %v, want it refused saying %q", tt.env, tt.created, err, tt.want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	soon := now.Add(3 * time.Hour).Format(time.RFC3339)
	f := createFlags{images: "r.yaml", output: "out", created: soon}
	if opts, err := f.options(); err != nil || opts.Created.Format(time.RFC3339) != soon {
		t.Errorf("--created %s: %v, %v", soon, opts.Created, err)
	}
}
