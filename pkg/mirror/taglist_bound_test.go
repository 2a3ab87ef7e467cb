package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTagListWithoutEnd: a registry (hostile, or broken) whose tag list of
// the bundle repository pages without end, 1000 new tags a page. Inventory
// (and the rollback check of every import, which lists the same tags)
// held every tag until oras gave up at its 1000th page, whatever a page
// holds (a million tags here; ten million at 10000 a page), with "tag
// listing exceeded 1000 pages: too many pages", which said nothing of
// what to do. Now it stops past 100000 tags, exit 11, naming the
// repository and what to do.
func TestTagListWithoutEnd(t *testing.T) {
	for _, tc := range []struct {
		perPage int
		want    string
	}{
		{1000, "more than 100000 tags"},
		// Fewer tags a page reach the client's bound on pages first: it
		// said "tag listing exceeded 1000 pages: too many pages" (exit 1).
		{50, "more than 1000 pages of tags (50000 tags)"},
	} {
		t.Run(fmt.Sprint(tc.perPage), func(t *testing.T) {
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasSuffix(r.URL.Path, "/tags/list") {
						next.ServeHTTP(w, r)
						return
					}
					from, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("last"), "t"))
					var page []string
					for i := from + 1; i <= from+tc.perPage; i++ {
						page = append(page, fmt.Sprintf("t%09d", i))
					}
					w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%s>; rel="next"`, r.URL.Path, tc.perPage, page[len(page)-1]))
					w.Header().Set("Content-Type", "application/json")
					json.NewEncoder(w).Encode(map[string]any{"name": "stellaops/mirror-bundle", "tags": page})
				})
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: testutil.Client(t)})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), host+"/stellaops/mirror-bundle") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("inventory over a tag list without end, %d tags a page: %v; want malformed, naming the repository and %q", tc.perPage, err, tc.want)
			}
		})
	}
}
