package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestTagListHoldsOnlyValidTags: a registry's tag list is read page by
// page (each up to 4 MiB), bounded at 1000 pages; every tag listed was
// held until the list ended, whatever its length, so a hostile registry
// listing a tag of 4 MiB a page had the rollback check, inventory and
// catalog hold 4 GiB of names no client can ask for (a tag is 128
// characters at most). Only tags that can name a bundle are now kept.
func TestTagListHoldsOnlyValidTags(t *testing.T) {
	const pages = 20
	long := strings.Repeat("x", 1<<20)
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/tags/list") {
				next.ServeHTTP(w, r)
				return
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("last"), "v"))
			page := []string{long + strconv.Itoa(n), fmt.Sprintf("v%d", n+1)}
			if n+1 < pages {
				w.Header().Set("Link", fmt.Sprintf(`<%s?last=v%d>; rel="next"`, r.URL.Path, n+1))
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"name": "stellaops/mirror-bundle", "tags": page})
		})
	})
	tgt := newTarget(host, testutil.Client(t), transfer.Options{})
	r, err := tgt.repo("stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := tgt.listTags(context.Background(), r, "stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, tag := range tags {
		held += len(tag)
	}
	if len(tags) != pages || held > pages*128 {
		t.Errorf("listTags kept %d tags of %d bytes in all; want the %d valid ones alone", len(tags), held, pages)
	}
}
