package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/layout"
)

// The floor is a read: it tells how fast this machine can fetch the
// release, not how fast it can put the release anywhere. Each job's limit
// row does the least work that job's output needs, with no tool around it,
// 8 blobs at a time, every blob hashed as it moves:
//
//   - export: GET every blob, write it to its own file (its writeback
//     started as it is written), fsync it;
//   - import, push: PUT every blob from page-cached files into an empty
//     distribution registry (one POST and one monolithic PUT each);
//   - sync: GET every blob from one registry and PUT the same stream into
//     another.
//
// Manifests are left out of the limits (distribution would refuse an image
// manifest whose blobs sit in another repository; they are a few KiB), so
// the limit rows count blob bytes only.

// limitRepo is the repository the limit rows write to.
const limitRepo = "limit/blobs"

// exportLimit: every blob fetched, hashed, written to disk and synced.
func (e *env) exportLimit() scenario {
	dir := filepath.Join(e.work, "limit-export")
	return scenario{
		tool: "limit: GET + hash + write + fsync", bytes: e.layerBytes(), limit: true,
		setup:   func(int) error { os.RemoveAll(dir); return os.MkdirAll(dir, 0o755) },
		outputs: []string{dir},
		inproc: func(int) error {
			return e.parallel(func(dg digest.Digest, b blobAt, buf []byte) error {
				if b.manifest {
					return nil
				}
				body, err := getBlob("http://"+e.source, b.repo, dg)
				if err != nil {
					return err
				}
				defer body.Close()
				f, err := os.Create(filepath.Join(dir, dg.Encoded()))
				if err != nil {
					return err
				}
				// The disk starts on each file as it is written (as stella's
				// archives do), rather than only at its fsync.
				h := sha256.New()
				_, err = io.CopyBuffer(io.MultiWriter(layout.NewWriteback(f), h), body, buf)
				if err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				return checkHash(dg, h)
			})
		},
	}
}

// ingestLimit: every blob PUT from the signed bundle's files (read by
// setup, so in the page cache) into the registry target() names.
func (e *env) ingestLimit(group string, target func() string, prepare func(int) error) scenario {
	blobs := filepath.Join(e.work, "signed", "blobs", "sha256")
	return scenario{
		group: group, tool: "limit: PUT every blob from disk + hash", bytes: e.layerBytes(), limit: true, setup: prepare,
		inproc: func(int) error {
			return e.parallel(func(dg digest.Digest, b blobAt, buf []byte) error {
				if b.manifest {
					return nil
				}
				f, err := os.Open(filepath.Join(blobs, dg.Encoded()))
				if err != nil {
					return err
				}
				defer f.Close()
				return putBlob("http://"+target(), dg, b.size, f)
			})
		},
	}
}

// syncLimit: every blob GET from source() and the same stream PUT to
// target().
func (e *env) syncLimit(source, target func() string, repo string, prepare func(int) error) scenario {
	return scenario{
		tool: "limit: GET + PUT every blob + hash", bytes: e.layerBytes(), limit: true, setup: prepare,
		inproc: func(int) error {
			return e.parallel(func(dg digest.Digest, b blobAt, buf []byte) error {
				if b.manifest {
					return nil
				}
				body, err := getBlob("http://"+source(), repo, dg)
				if err != nil {
					return err
				}
				defer body.Close()
				return putBlob("http://"+target(), dg, b.size, body)
			})
		},
	}
}

// layerBytes is the size of the release's unique blobs that are not
// manifests.
func (e *env) layerBytes() int64 {
	var n int64
	for _, b := range e.blobs {
		if !b.manifest {
			n += b.size
		}
	}
	return n
}

// getBlob opens a blob of repo at base.
func getBlob(base, repo string, dg digest.Digest) (io.ReadCloser, error) {
	resp, err := http.Get(fmt.Sprintf("%s/v2/%s/blobs/%s", base, repo, dg))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s/%s: %s", repo, dg, resp.Status)
	}
	return resp.Body, nil
}

// putBlob uploads r (size bytes) as dg to limitRepo at base: one POST, one
// monolithic PUT, the body hashed as it is sent.
func putBlob(base string, dg digest.Digest, size int64, r io.Reader) error {
	resp, err := http.Post(fmt.Sprintf("%s/v2/%s/blobs/uploads/", base, limitRepo), "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST upload of %s: %s", dg, resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", dg.String())
	loc.RawQuery = q.Encode()
	h := sha256.New()
	req, err := http.NewRequest(http.MethodPut, loc.String(), io.NopCloser(io.TeeReader(r, h)))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", dg, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %s", dg, resp.Status)
	}
	return checkHash(dg, h)
}
