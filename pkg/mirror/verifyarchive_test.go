package mirror_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyArchive verifies bundle archives as verify verifies the
// directory they were packed from: the same counts when they are sound,
// the documented error, naming the culprit, when they are not.
func TestVerifyArchive(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	opts := func(path string) mirror.VerifyOptions {
		return mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)}
	}
	want, err := mirror.Verify(ctx, opts(s.dir))
	if err != nil {
		t.Fatal(err)
	}
	// pack's archives are read at random, another tool's as a stream.
	for _, suffix := range []string{".tar", ".tar.gz", ".tar.zst", "foreign.tar.gz", "foreign.tar.zst"} {
		path := ""
		if foreign, ok := strings.CutPrefix(suffix, "foreign"); ok {
			path = s.foreign(t, foreign)
		} else {
			path = s.pack(t, suffix)
		}
		got, err := mirror.Verify(ctx, opts(path))
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if *got.Content != *want.Content || got.Root != want.Root || len(got.Signature.Signers) != 1 {
			t.Errorf("%s: verified %+v root %s, the directory %+v root %s", suffix, got.Content, got.Root, want.Content, want.Root)
		}
	}
	layer := ""
	for dg, size := range s.rel.Images[0].Blobs {
		if size > 64<<10 && size < 128<<10 {
			layer = dg.Encoded()
		}
	}
	m := readManifest(t, s.dir)
	tests := []struct {
		name    string
		archive func(t *testing.T) string
		mod     func(o *mirror.VerifyOptions)
		wantErr error
		wantMsg string
	}{
		{"layer byte", func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+layer, 5000)
			return tarPath
		}, nil, errdef.ErrDigestMismatch, layer},
		// The root is read with the head: named once, the archive and
		// the digest ("FILE: FILE: root index sha256:X: sha256:X: content
		// hashes to …" before; found by review).
		{"root index byte", func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, "blobs/sha256/"+want.Root.Encoded(), 20)
			return tarPath
		}, nil, errdef.ErrDigestMismatch, want.Root.Encoded()},
		{"advisory byte", func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			tamperTar(t, tarPath, m.Advisories[0].Path, 10)
			return tarPath
		}, nil, errdef.ErrDigestMismatch, m.Advisories[0].Path},
		{"missing layer", func(t *testing.T) string {
			dir := copyBundle(t, s.dir)
			os.Remove(filepath.Join(dir, "blobs", "sha256", layer))
			return packDir(t, dir)
		}, nil, errdef.ErrDigestMismatch, layer},
		{"stray file", func(t *testing.T) string {
			dir := copyBundle(t, s.dir)
			os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644)
			return packDir(t, dir)
		}, nil, errdef.ErrMalformed, "extra.txt"},
		{"truncated", func(t *testing.T) string {
			tarPath := s.pack(t, ".tar.zst")
			data, _ := os.ReadFile(tarPath)
			os.WriteFile(tarPath, data[:len(data)*2/3], 0o644)
			return tarPath
		}, nil, errdef.ErrMalformed, "truncated"},
		// Cut short within a layer, read as a stream: the entry is named
		// once ("archive entry X: archive entry X is truncated" before).
		{"truncated in a layer", func(t *testing.T) string {
			tarPath := s.pack(t, ".tar")
			data, _ := os.ReadFile(tarPath)
			os.WriteFile(tarPath, data[:len(data)*2/3], 0o644)
			return tarPath
		}, nil, errdef.ErrMalformed, "is truncated"},
		{"corrupt member in a .tar.gz", func(t *testing.T) string {
			return corruptLayers(t, s.pack(t, ".tar.gz"))
		}, nil, errdef.ErrDigestMismatch, "gzip archive: the member at archive byte"},
		{"broken seek table: verified as a stream", func(t *testing.T) string {
			zst := s.pack(t, ".tar.zst")
			data, _ := os.ReadFile(zst)
			n := len(data)
			binary.LittleEndian.PutUint32(data[n-9:], binary.LittleEndian.Uint32(data[n-9:])+1) // one frame too many
			os.WriteFile(zst, data, 0o644)
			return zst
		}, nil, nil, ""},
		{"other key", func(t *testing.T) string { return s.pack(t, ".tar") }, func(o *mirror.VerifyOptions) {
			_, other := testKeys(t, "other")
			o.Trust = trustKeys(other)
		}, errdef.ErrSignature, "manifest.dsse"},
		{"expired", func(t *testing.T) string { return s.pack(t, ".tar.gz") }, func(o *mirror.VerifyOptions) {
			o.Now = m.ExpiresAt.Add(time.Second)
		}, errdef.ErrExpired, "--allow-expired"},
		{"expired but allowed", func(t *testing.T) string { return s.pack(t, ".tar.gz") }, func(o *mirror.VerifyOptions) {
			o.Now, o.AllowExpired = m.ExpiresAt.Add(time.Second), true
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := tt.archive(t)
			// A plain tar is read at random; the same bytes in another
			// tool's .tar.gz are read as a stream: both give the verdict.
			paths := []string{archive}
			if strings.HasSuffix(archive, ".tar") {
				paths = append(paths, testutil.ForeignArchive(t, archive, "bundle.tar.gz"))
			}
			for _, path := range paths {
				o := opts(path)
				if tt.mod != nil {
					tt.mod(&o)
				}
				_, err := mirror.Verify(ctx, o)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("%s: err = %v, want %v", filepath.Base(path), err, tt.wantErr)
				}
				if err != nil && (!strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), o.Envelope)) {
					t.Errorf("error %q does not name %q and the archive", err, tt.wantMsg)
				}
				if err != nil && strings.Contains(err.Error(), "root index ") && strings.Count(err.Error(), want.Root.Encoded()) != 1 {
					t.Errorf("error %q names the root more than once", err)
				}
				// Named once: "FILE: FILE: archive is truncated" said it twice.
				if err != nil && (strings.Count(err.Error(), o.Envelope) != 1 || strings.Count(err.Error(), "archive entry ") > 1) {
					t.Errorf("error %q names the archive or its entry more than once", err)
				}
			}
		})
	}
}

// TestVerifyDirectoryNamesBlobOnce: a blob of a bundle directory whose
// bytes changed is named once, "DIR: blob sha256:X: content hashes to …";
// verify said "blob sha256:X: sha256:X: content hashes to …" (found by
// review).
func TestVerifyDirectoryNamesBlobOnce(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	dir := copyBundle(t, s.dir)
	blob := largestBlob(t, dir)
	flipByte(t, blob, 1000)
	_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: dir, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
	want := dir + ": blob sha256:" + filepath.Base(blob) + ": content hashes to sha256:"
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), filepath.Base(blob)) != 1 {
		t.Fatalf("err = %v\nwant a digest mismatch starting %q, the digest once", err, want)
	}
}
