package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// newerDocument is data, a canonical document of schemaVersion 1, as a
// newer stella might write it: schemaVersion 2, with a field this one does
// not know when added is set.
func newerDocument(t *testing.T, data []byte, added bool) []byte {
	t.Helper()
	out := strings.Replace(string(data), `"schemaVersion": 1`, `"schemaVersion": 2`, 1)
	if added {
		out = strings.Replace(out, "{\n", "{\n  \"addedLater\": true,\n", 1)
	}
	if out == string(data) {
		t.Fatal("mutation changed nothing")
	}
	return []byte(out)
}

// wantNewer checks err says, in one line, that name was made by a newer
// stella and to upgrade (errdef.ErrNewerFormat, exit 11).
func wantNewer(t *testing.T, what string, err error, name string) {
	t.Helper()
	want := name + " was made by a newer stella (schemaVersion 2; this stella reads 1): upgrade stella on this side"
	if !errors.Is(err, errdef.ErrNewerFormat) || !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v\nwant errdef.ErrNewerFormat, containing %q", what, err, want)
	}
}

// TestNewerInventorySaysUpgrade: a signed inventory of a newer format,
// given as --base, says a newer stella made it, not "unknown field".
func TestNewerInventorySaysUpgrade(t *testing.T) {
	for _, added := range []bool{false, true} {
		s := newInventorySigner(t)
		inv := s.write(newerDocument(t, oneBundleInventory(t, 5), added))
		_, err := loadInventoryBase(context.Background(), inv, s.trust)
		wantNewer(t, "inventory", err, "--base "+inv)
	}
}

// TestNewerCatalogSaysUpgrade: a signed catalog of a newer format, read
// by catalog --verify, says a newer stella made it. Before, one with no
// new field passed as if this stella read its format (its schemaVersion
// was never checked), and one with a new field was "malformed".
func TestNewerCatalogSaysUpgrade(t *testing.T) {
	for _, added := range []bool{false, true} {
		newerCatalog(t, added)
	}
}

func newerCatalog(t *testing.T, added bool) {
	ctx := context.Background()
	s := newInventorySigner(t)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	tgt := newTarget(host, client, transfer.Options{Backoff: time.Millisecond})
	repo := bundle.DefaultBundleRepository
	data, err := bundle.Canonical(&CatalogFile{SchemaVersion: 1, Repository: host + "/" + repo, GeneratedAt: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), Bundles: []CatalogEntry{}})
	if err != nil {
		t.Fatal(err)
	}
	data = newerDocument(t, data, added)
	env, err := signDocument(ctx, s.key, inventoryPass, PayloadTypeCatalog, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storeCatalog(ctx, tgt, repo, data, env, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = verifyCatalog(ctx, tgt, repo, CatalogOptions{Verify: true, Trust: s.trust})
	wantNewer(t, "catalog", err, "catalog of "+host+"/"+repo)
}
