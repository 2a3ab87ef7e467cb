package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// hostileReferrers answers every referrers listing as mode says: "not
// JSON" (an image index by its Content-Type, HTML by its body), "loop" (an
// empty page whose Link names itself, without end) or "origin" (a Link to
// another host); "" passes the request on.
func hostileReferrers(mode *atomic.Value) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m, _ := mode.Load().(string)
			if m == "" || !strings.Contains(r.URL.Path, "/referrers/") || r.Method != http.MethodGet {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			empty := `{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageIndex + `","manifests":[]}`
			switch m {
			case "not JSON":
				w.Write([]byte("<html><body>maintenance</body></html>"))
			case "loop":
				w.Header().Set("Link", "<"+r.URL.Path+`>; rel="next"`)
				w.Write([]byte(empty))
			case "origin":
				w.Header().Set("Link", "<http://198.51.100.7"+r.URL.Path+`>; rel="next"`)
				w.Write([]byte(empty))
			}
		})
	}
}

// TestReferrersAnswerMalformed: a registry whose referrers API answers
// with what is not JSON, pages without end, or links its next page to
// another host. pull, import (its rollback check reads the held root's
// signature) and create failed exit 1, "failed to decode response",
// "referrer listing exceeded 100 pages: too many pages" or "invalid next
// link": hostile content, which DESIGN.md's exit 11 (malformed) is for,
// as for a tag list that pages without end. The error still names the
// repository: catalog --verify's, failing on the catalog's referrers, named
// none ("referrer listing exceeded 100 pages: …").
func TestReferrersAnswerMalformed(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var mode atomic.Value
	host := testutil.RegistryWrapped(t, hostileReferrers(&mode))
	ctx := context.Background()
	if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub)); err != nil {
		t.Fatal(err)
	}
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{Registry: host, Seed: 5})
	repo := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Key: s.priv, Password: testPass, Client: testutil.Client(t)}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"not JSON", "loop", "origin"} {
		mode.Store(m)
		check := func(what string, err error, repo string) {
			t.Helper()
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), repo) {
				t.Errorf("%s, referrers answered %s: %v; want malformed, naming %s", what, m, err, repo)
			}
		}
		_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		check("pull", err, "stellaops/mirror-bundle")
		_, err = mirror.Import(ctx, importOpts(t, s.dir, host, s.pub))
		check("import", err, "stellaops/mirror-bundle")
		_, err = mirror.Create(ctx, createOpts(t, releaseFile, advisories, filepath.Join(t.TempDir(), "bundle")))
		check("create", err, host+"/stellaops/") // the image whose referrers were asked for
		_, err = mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(s.pub), Client: testutil.Client(t)})
		check("catalog --verify", err, repo)
	}
}

// TestDoctorReferrersListingMalformed: a registry whose referrers API
// answers an image index whose pages never end, or whose next page is on
// another host. doctor warned that it "does not list the referrer just
// pushed", then said import and push would attach referrers by the API,
// "Usable: yes"; every import there fails listing them. The check now
// fails, naming what the listing did, and the registry is not usable. So
// for one that answers an image index by its Content-Type whose body is
// not JSON: doctor took it for no API at all, "fallback tags", usable,
// while import, pull and push, which list by the API all the same, fail.
func TestDoctorReferrersListingMalformed(t *testing.T) {
	for _, m := range []string{"loop", "origin", "not JSON"} {
		t.Run(m, func(t *testing.T) {
			var mode atomic.Value
			mode.Store(m)
			host := testutil.RegistryWrapped(t, hostileReferrers(&mode))
			res, err := mirror.Doctor(context.Background(), mirror.DoctorOptions{Registry: host, Client: testutil.Client(t)})
			if res == nil {
				t.Fatal(err)
			}
			c := res.Check(mirror.CheckReferrersAPI)
			if c == nil || c.Status != mirror.CheckFail || res.Usable || err == nil {
				t.Fatalf("doctor, referrers answered %s: %+v, usable %v, %v; want the referrers check failed, not usable", m, c, res.Usable, err)
			}
			if strings.Contains(c.Detail, "does not list the referrer") {
				t.Errorf("doctor, referrers answered %s: %q says the referrer was not listed; the listing failed", m, c.Detail)
			}
		})
	}
}
