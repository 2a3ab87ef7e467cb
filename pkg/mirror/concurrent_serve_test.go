package mirror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestServeNeverSendsChangedBytes: serve verifies every blob when it
// starts, then reads blobs from the media at each request. A tar rewritten
// in place while served (cp of another bundle over it: the same file, new
// bytes at the offsets serve indexed) made it answer 200 with other bytes
// than the digest asked for. serve now notices that the file was written
// to (its size or modification time) and answers those requests with an
// error. What the commands of this program do to a served bundle (pack
// --force, create --output F.tar over the tar: a new file renamed into
// place; sign in the directory) leaves every blob as it was verified.
func TestServeNeverSendsChangedBytes(t *testing.T) {
	f := newServedSample(t, sample.Spec{})
	other := newServedSample(t, sample.Spec{Variant: 7})
	otherTar, _ := os.ReadFile(other.tar)
	tarCopy := func() string {
		path := filepath.Join(t.TempDir(), "bundle.tar")
		data, _ := os.ReadFile(f.tar)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name    string
		path    func() string
		change  func(path string)
		changed bool // some blob must now fail
	}{
		{"tar rewritten in place", tarCopy, func(path string) {
			if err := os.WriteFile(path, otherTar, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"pack --force over the tar", tarCopy, func(path string) {
			if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: other.dir, Output: path, Force: true}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"signed again in the directory", func() string { return copyBundle(t, f.dir) }, func(path string) {
			priv, _ := testKeys(t, "again")
			sign(t, path, priv)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path()
			host, _ := serveBundle(t, f, path, nil)
			tc.change(path)
			failed := 0
			for _, img := range f.rel.Images {
				for dg := range img.Blobs {
					data, err := getBlob(host, img.Repository, dg)
					switch {
					case err != nil:
						failed++
					case digest.FromBytes(data) != dg:
						t.Errorf("%s: GET blob %s answered other bytes (%s)", img.Repository, dg, digest.FromBytes(data))
					}
				}
			}
			if tc.changed != (failed > 0) {
				t.Errorf("%d blobs failed to arrive whole, want failures: %v", failed, tc.changed)
			}
		})
	}
}

// getBlob GETs a blob whole; an error unless the answer is 200 and as long
// as it said.
func getBlob(host, repo string, dg digest.Digest) ([]byte, error) {
	resp, err := http.Get("http://" + host + "/v2/" + repo + "/blobs/" + dg.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	return data, err
}
