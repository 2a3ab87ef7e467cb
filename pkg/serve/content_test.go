package serve_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// TestContentRefusesInconsistentContent checks the rules Content keeps
// while it is built: what it is given must be what it says it is.
func TestContentRefusesInconsistentContent(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		build   func(c *serve.Content) error
		wantErr error
	}{
		{"bytes differ from digest", func(c *serve.Content) error {
			return c.AddManifest(f.image1, f.docs[f.image2.Digest])
		}, errdef.ErrDigestMismatch},
		{"not a manifest", func(c *serve.Content) error {
			return c.AddManifest(ocispec.Descriptor{MediaType: "application/octet-stream", Digest: f.image1.Digest, Size: f.image1.Size}, f.docs[f.image1.Digest])
		}, errdef.ErrMalformed},
		{"child manifest not held", func(c *serve.Content) error {
			if err := c.AddManifest(f.index, f.docs[f.index.Digest]); err != nil {
				return err
			}
			return c.Include("r", f.index.Digest)
		}, errdef.ErrMalformed},
		{"unknown manifest", func(c *serve.Content) error { return c.Include("r", digest.FromString("x")) }, errdef.ErrMalformed},
		{"invalid repository", func(c *serve.Content) error {
			if err := c.AddManifest(f.image1, f.docs[f.image1.Digest]); err != nil {
				return err
			}
			return c.Include("../r", f.image1.Digest)
		}, errdef.ErrUsage},
		{"tag names two manifests", func(c *serve.Content) error {
			c.AddManifest(f.image1, f.docs[f.image1.Digest])
			c.AddManifest(f.image2, f.docs[f.image2.Digest])
			c.Include("r", f.image1.Digest)
			c.Include("r", f.image2.Digest)
			if err := c.Tag("r", "v1", f.image1.Digest); err != nil {
				return err
			}
			return c.Tag("r", "v1", f.image2.Digest)
		}, errdef.ErrMalformed},
		{"tag outside the repository", func(c *serve.Content) error {
			c.AddManifest(f.image1, f.docs[f.image1.Digest])
			c.AddManifest(f.image2, f.docs[f.image2.Digest])
			c.Include("r", f.image1.Digest)
			return c.Tag("r", "v1", f.image2.Digest)
		}, errdef.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build(serve.NewContent(f.store))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestContentServesBlobsInMemory checks that a blob added with its bytes is
// served from memory, only in the repositories that hold it, and that bytes
// that are not what the descriptor names are refused.
func TestContentServesBlobsInMemory(t *testing.T) {
	f := newFixture(t)
	c := serve.NewContent(failing{})
	for _, d := range []ocispec.Descriptor{f.config, f.layerA} {
		if err := c.AddBlob(d, f.store[d.Digest]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddBlob(f.layerB, f.store[f.layerA.Digest]); !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Errorf("wrong bytes: %v", err)
	}
	if err := c.AddManifest(f.image1, f.docs[f.image1.Digest]); err != nil {
		t.Fatal(err)
	}
	if err := c.Include("r", f.image1.Digest); err != nil {
		t.Fatal(err)
	}
	b, err := c.Blob(context.Background(), "r", f.layerA.Digest)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, b.Size())
	if _, err := b.ReadAt(got, 0); err != nil || !bytes.Equal(got, f.store[f.layerA.Digest]) {
		t.Errorf("read %v", err)
	}
	if _, err := c.Blob(context.Background(), "other", f.layerA.Digest); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("outside its repository: %v", err)
	}
}
