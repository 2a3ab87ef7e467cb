package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestTokenHoldingSlashBeforeHostOfOneLabelNotPrinted: a --registry
// (import, inventory, doctor; login and logout), or serve --addr, of a
// token holding a / before a host of one label (TOKEN/…@registry, a short name the air-gap
// network's DNS search domain resolves) was taken for a repository with a
// tag typed where its digest goes, "registry" after the @, and printed
// whole: "--registry \"TOKEN/…@registry\": want HOST[:PORT], no path". What
// is before the @ is no repository (capitals, + and =), so no tag follows
// it (found by review).
func TestTokenHoldingSlashBeforeHostOfOneLabelNotPrinted(t *testing.T) {
	const secret = "gl/S3cr3t+T0ken/Base64="
	ctx := context.Background()
	client := testutil.Client(t)
	host := secret + "@registry"
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("%s: %v; want it refused as holding credentials, the token blanked", what, err)
		}
	}
	_, err := mirror.Doctor(ctx, mirror.DoctorOptions{Registry: host, Client: client})
	check("doctor --registry", err)
	_, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: client})
	check("inventory --registry", err)
	check("login", mirror.Login(ctx, mirror.LoginOptions{Registry: host, Username: "u", Password: "p", Client: client}))
	// serve may refuse its want of a key first: no token either way.
	if err := mirror.Serve(ctx, mirror.ServeOptions{Path: t.TempDir(), Addr: host}); !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") {
		t.Errorf("serve --addr: %v; want it refused, the token blanked", err)
	}
	// A tag typed where the digest goes is still told as such.
	_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: "registry.internal/a/b@1.36", Output: filepath.Join(t.TempDir(), "b"), Client: client})
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "is a tag") {
		t.Errorf("pull registry.internal/a/b@1.36: %v; want it refused as a tag after the @", err)
	}
}

// TestRegistryFlagOfReferenceWithTokenNotPrinted: a --registry given a
// reference whose token holds a / (TOKEN/…@HOST/REPO:TAG, or with a
// digest: a reference pasted where the host goes) was taken for no
// credentials, a HOST[:PORT] holding no path or digest, and printed
// whole: "--registry \"TOKEN/…@HOST/REPO:TAG\": want HOST[:PORT], no
// path"; TOKEN@HOST/REPO:TAG, its token without a /, was blanked
// (found by review).
func TestRegistryFlagOfReferenceWithTokenNotPrinted(t *testing.T) {
	const secret = "gl/S3cr3t+T0ken/Base64="
	ctx := context.Background()
	client := testutil.Client(t)
	for _, host := range []string{secret + "@myreg/stellaops/mirror-bundle:1", secret + "@registry.internal:5000/a@sha512:abc"} {
		_, err := mirror.Doctor(ctx, mirror.DoctorOptions{Registry: host, Client: client})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("doctor --registry TOKEN@…: %v; want it refused as holding credentials, the token blanked", err)
		}
		_, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: client})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), "T0ken") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("inventory --registry TOKEN@…: %v; want it refused as holding credentials, the token blanked", err)
		}
	}
}
