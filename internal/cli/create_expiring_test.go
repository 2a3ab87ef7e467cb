package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestExpiringSoonNamesItsCause: a bundle whose createdAt, fixed in the
// past by SOURCE_DATE_EPOCH, leaves under a day of the default --valid-for
// was warned of as "within a day (--valid-for ): … give days, such as
// --valid-for 30d", naming a flag not given as its cause, where the old
// createdAt is (found by review).
func TestExpiringSoonNamesItsCause(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	now := time.Unix(1700000000, 0).Add(mirror.DefaultValidFor - 12*time.Hour)
	f := &createFlags{}
	msg := f.expiredAtBirth(mirror.CreateOptions{Created: time.Unix(1700000000, 0)}, now)
	if msg == "" {
		t.Fatal("no warning of a bundle that expires within the day")
	}
	if strings.Contains(msg, "--valid-for )") || strings.Contains(msg, "such as --valid-for 30d") {
		t.Errorf("blames a --valid-for not given: %s", msg)
	}
	if !strings.Contains(msg, "SOURCE_DATE_EPOCH=1700000000") {
		t.Errorf("does not name SOURCE_DATE_EPOCH, where createdAt came from: %s", msg)
	}
	// Minutes for days still says so.
	f = &createFlags{validFor: "30m"}
	msg = f.expiredAtBirth(mirror.CreateOptions{ValidFor: 30 * time.Minute}, now)
	if !strings.Contains(msg, "within a day (--valid-for 30m)") {
		t.Errorf("--valid-for 30m: %s", msg)
	}
}

// TestValidForOneDayNotWarned: --valid-for 1d (or 24h), days as asked,
// was warned of as minutes typed for days, "within a day (--valid-for
// 1d): … give days, such as --valid-for 30d": createdAt, in whole
// seconds, falls up to a second before the clock, so the bundle expires a
// fraction of a second less than a day after it (found by review).
func TestValidForOneDayNotWarned(t *testing.T) {
	for _, v := range []string{"1d", "24h"} {
		now := time.Unix(1764547200, 500_000_000)
		f := &createFlags{validFor: v}
		if msg := f.expiredAtBirth(mirror.CreateOptions{ValidFor: 24 * time.Hour}, now); msg != "" {
			t.Errorf("--valid-for %s: %s", v, msg)
		}
	}
}
