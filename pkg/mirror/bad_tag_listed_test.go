package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTagListWithForbiddenNames: a registry (hostile, or broken) whose
// tag list of the bundle repository names tags the tag grammar forbids
// (../../x, a b, one of 129 characters). Each failed the generation check
// of import, push and sync, inventory and catalog, exit 1: "read
// …:../../x: invalid reference: invalid tag". No client can ask for such
// a tag, so it names no bundle and is now passed over; every other tag is
// still read, so a newer bundle listed beside them still refuses an older
// one (ErrGeneration) and is still inventoried and catalogued.
func TestTagListWithForbiddenNames(t *testing.T) {
	older := newSignedSample(t, sample.Spec{}, 0)
	newer := newSignedSample(t, sample.Spec{Version: "2025.11.0", Variant: 7}, fixedTime.Unix()+1)
	sign(t, newer.dir, older.priv)
	forbidden := []string{"../../x", "a b", "-x", strings.Repeat("t", 129)}
	host := testutil.RegistryWrapped(t, tagListsEdited(func(tags []string) []string {
		return append(append([]string{}, forbidden...), tags...)
	}))
	ctx := context.Background()
	if _, err := mirror.Import(ctx, importOpts(t, newer.dir, host, older.pub)); err != nil {
		t.Fatalf("import where the tag list names forbidden tags: %v", err)
	}
	// The newer bundle is found under its listed tag, not the one about to
	// be written.
	if _, err := mirror.Import(ctx, importOpts(t, older.dir, host, older.pub)); !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("import of an older bundle beside forbidden tags: %v, want ErrGeneration", err)
	}
	_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: older.dir, Reference: host + "/stellaops/mirror-bundle", Client: testutil.Client(t), Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrGeneration) {
		t.Fatalf("push of an older bundle beside forbidden tags: %v, want ErrGeneration", err)
	}
	inv, err := mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Trust: trustKeys(older.pub), Client: testutil.Client(t)})
	if err != nil || inv.Bundles != 1 {
		t.Fatalf("inventory beside forbidden tags: %+v, %v; want the one bundle", inv, err)
	}
	repo := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Key: older.priv, Password: testPass, Client: testutil.Client(t)}); err != nil {
		t.Fatalf("catalog beside forbidden tags: %v", err)
	}
	res, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: repo, Verify: true, Trust: trustKeys(older.pub), Client: testutil.Client(t)})
	if err != nil || len(res.Bundles) != 1 {
		t.Fatalf("catalog --verify beside forbidden tags: %+v, %v; want the one bundle", res, err)
	}
}

// tagListsEdited wraps a registry so that each tag list it answers (one
// page, as the in-process registry gives it) is edit's of the tags the
// registry listed.
func tagListsEdited(edit func(tags []string) []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/tags/list") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var list struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
				list.Name = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
			}
			list.Tags = edit(list.Tags)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(list)
		})
	}
}
