package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSignatureFailureNamesSource: a bundle that does not verify with the
// key given is refused (exit 5) by every command that reads one, on one
// line that names the archive, directory or reference at fault, as verify
// and serve name it: an operator with several bundles on the media, or a
// sync between two registries, is told which one failed.
func TestSignatureFailureNamesSource(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	_, other := testKeys(t, "other")
	wrong := trustKeys(other)
	archive := s.pack(t, ".tar.zst")
	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	target := testutil.Registry(t)
	tests := []struct {
		name, source string
		run          func() error
	}{
		{"import archive", archive, func() error {
			opts := importOpts(t, archive, target, s.pub)
			opts.Trust = wrong
			_, err := mirror.Import(ctx, opts)
			return err
		}},
		{"import reference", ref, func() error {
			opts := importOpts(t, ref, target, s.pub)
			opts.Trust = wrong
			_, err := mirror.Import(ctx, opts)
			return err
		}},
		{"push", archive, func() error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: archive, Reference: target + "/stellaops/mirror-bundle",
				Trust: wrong, Client: client, Transfer: transferOpts()})
			return err
		}},
		{"sync", ref, func() error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: target + "/stellaops/mirror-bundle",
				Trust: wrong, Client: client, Transfer: transferOpts()})
			return err
		}},
		{"pull", ref, func() error {
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "out"),
				Trust: wrong, Client: client, Transfer: transferOpts()})
			return err
		}},
		{"inspect", archive, func() error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: archive, Trust: wrong, Now: testNow, Client: client})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.Tags(t, target)
			err := tt.run()
			if !errors.Is(err, errdef.ErrSignature) {
				t.Fatalf("err = %v, want %v", err, errdef.ErrSignature)
			}
			want := tt.source + ": manifest.dsse: 0 of 1 signatures verified with a trusted key"
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name the source on one line: want %q", err, want)
			}
			if after := testutil.Tags(t, target); len(after) != len(before) {
				t.Errorf("tags changed: %v -> %v", before, after)
			}
		})
	}
}
