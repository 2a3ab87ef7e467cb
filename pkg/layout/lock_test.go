//go:build unix

package layout_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stellaops/mirror/pkg/layout"
)

// TestLockDir: a writer's lock keeps out writers and readers, who wait
// (and say so once) until it is released or their context ends; readers
// share the lock.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	unlock, err := layout.LockDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, lock := range map[string]func(context.Context, string, func()) (func(), error){"writer": layout.LockDir, "reader": layout.ReadLockDir} {
		cctx, cancel := context.WithCancel(ctx)
		waited := 0
		_, err := lock(cctx, dir, func() { waited++; cancel() })
		if !errors.Is(err, context.Canceled) || waited != 1 {
			t.Errorf("%s while a writer holds the lock: %v after %d waits, want to wait once until cancelled", name, err, waited)
		}
	}
	unlock()
	r1, err := layout.ReadLockDir(ctx, dir, func() { t.Error("a reader waited for nobody") })
	if err != nil {
		t.Fatal(err)
	}
	r2, err := layout.ReadLockDir(ctx, dir, func() { t.Error("a reader waited for another reader") })
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	if _, err := layout.LockDir(cctx, dir, cancel); !errors.Is(err, context.Canceled) {
		t.Errorf("writer while readers hold the lock: %v, want to wait", err)
	}
	r1()
	r2()
	w, err := layout.LockDir(ctx, dir, func() { t.Error("a writer waited after every reader left") })
	if err != nil {
		t.Fatal(err)
	}
	w()
}
