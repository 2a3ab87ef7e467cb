package mirror

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// swapOnFirstCheck is a context whose first Err call, made by the copy of
// the first advisory, runs swap: the moment between the walk listing the
// feed's files and create opening the next one.
type swapOnFirstCheck struct {
	context.Context
	once sync.Once
	swap func()
}

func (c *swapOnFirstCheck) Err() error { c.once.Do(c.swap); return c.Context.Err() }

// TestAdvisorySwappedAfterTheWalkIsRefused: whoever writes the feed
// directory (a feed sync running as another user) replaces a file the walk
// listed by a symlink to a secret, a named pipe, or a directory of the feed
// by a symlink to another: create must refuse it as it refuses one there
// from the start, not carry the secret into the bundle or hang on the pipe.
func TestAdvisorySwappedAfterTheWalkIsRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		victim string // the file whose path is swapped, under the feed
		named  string // the path the refusal names, under the feed
		swap   func(t *testing.T, path, secret string)
	}{
		{"file by a symlink", "b.json", "b.json", func(t *testing.T, path, secret string) {
			os.Remove(path)
			if err := os.Symlink(secret, path); err != nil {
				t.Error(err)
			}
		}},
		{"file by a named pipe", "b.json", "b.json", func(t *testing.T, path, _ string) {
			os.Remove(path)
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Error(err)
			}
		}},
		{"directory by a symlink", "nvd/b.json", "nvd", func(t *testing.T, path, secret string) {
			dir := filepath.Dir(path)
			os.RemoveAll(dir)
			other := filepath.Join(filepath.Dir(secret), "other")
			os.MkdirAll(other, 0o755)
			os.WriteFile(filepath.Join(other, "b.json"), []byte(`{"stolen":true}`), 0o644)
			if err := os.Symlink(other, dir); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			feed := filepath.Join(base, "feed")
			os.MkdirAll(filepath.Join(feed, "nvd"), 0o755)
			os.WriteFile(filepath.Join(feed, "a.json"), []byte(`{"a":1}`), 0o644)
			victim := filepath.Join(feed, filepath.FromSlash(tt.victim))
			os.WriteFile(victim, []byte(`{"b":1}`), 0o644)
			secret := filepath.Join(base, "config.json")
			os.WriteFile(secret, []byte(`{"auths":{"reg":{"auth":"c2VjcmV0OnB3"}}}`), 0o600)
			ctx := &swapOnFirstCheck{Context: context.Background(), swap: func() { tt.swap(t, victim, secret) }}
			stage, err := layout.StageScratch(filepath.Join(base, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer stage.Abort()
			type result struct {
				files []bundle.File
				err   error
			}
			done := make(chan result, 1)
			go func() {
				files, err := addAdvisories(ctx, slog.New(slog.DiscardHandler), stage, feed)
				done <- result{files, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second): // a safety net: it hangs on the pipe
				t.Errorf("still reading %s after 10 s: it opened the named pipe and waits for a writer", victim)
				if w, err := os.OpenFile(victim, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				r = <-done
			}
			files, err := r.files, r.err
			named := filepath.Join(feed, tt.named)
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), named+":") {
				t.Fatalf("err = %v (carried %+v); want the swapped-in %s refused as malformed, by its path", err, files, named)
			}
		})
	}
}
