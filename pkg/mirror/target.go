package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// ReferrersMode says how a registry stores referrers.
type ReferrersMode string

// Referrers modes.
const (
	ReferrersAPI      ReferrersMode = "referrers API"
	ReferrersTagIndex ReferrersMode = "fallback tag (sha256-<hex>)"
)

// target is a registry that a placement is written into. It counts what
// it does.
type target struct {
	host   string
	client *remote.Client
	opts   transfer.Options

	mu      sync.Mutex
	repos   map[string]*oremote.Repository
	uploads map[string]*transfer.Uploader
	mode    ReferrersMode

	// streamed is set when uploads come from one stream, a few blobs in
	// flight at a time (streamPipeline).
	streamed bool
	// pool holds the chunks of every streamed upload: streamBudget in all.
	pool *transfer.ChunkPool
	// dialect is what the uploads of every repository learnt of how the
	// registry takes blobs (a refused PATCH, its smallest chunk): learnt
	// once, not once per repository.
	dialect transfer.Dialect

	sent, mounted, skipped atomic.Int64
	// mountsRefused is set once the registry declined a mount: spreads
	// then ask whether a repository holds a blob before mounting it.
	mountsRefused   atomic.Bool
	bytesSent       atomic.Int64
	pushed, present atomic.Int64
	// tagged counts the tags written, inPlace those that already named
	// the manifest and were left as they were.
	tagged, inPlace atomic.Int64
	// pushedHere are the manifests this run pushed, by repository: a tag
	// cannot already name one of them (the repository did not hold it),
	// so the tags over them are written without asking first.
	pushedHere map[repoDigest]bool
	// kept are the cosign tags left naming the far side's own manifest,
	// which the caller reports.
	kept []keptTag
	// warned are the bundle roots the rollback check skipped and named
	// already: it runs again before the tags are written.
	warned map[digest.Digest]bool
	// heldChecked keeps, by repo@digest, what verifying a held root gave
	// (verifyHeldOnce).
	heldChecked map[string]error
}

func newTarget(host string, client *remote.Client, opts transfer.Options) *target {
	return &target{host: host, client: client, opts: opts, repos: map[string]*oremote.Repository{}, uploads: map[string]*transfer.Uploader{},
		pushedHere: map[repoDigest]bool{}}
}

func (t *target) repo(name string) (*oremote.Repository, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.repos[name]; ok {
		return r, nil
	}
	r, err := t.client.Repository(t.host + "/" + name)
	if err != nil {
		return nil, err
	}
	// Without the referrers API, each referrer added replaces the
	// sha256-<hex> index; the one it supersedes is left untagged for the
	// registry's garbage collection, since many registries refuse deletes
	// (distribution's default configuration among them) and a refusal
	// must not fail a placement whose content is all in.
	r.SkipReferrersGC = true
	if t.mode != "" {
		_ = r.SetReferrersCapability(t.mode == ReferrersAPI)
	}
	t.repos[name] = r
	return r, nil
}

func (t *target) uploader(name string) (*transfer.Uploader, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u, ok := t.uploads[name]; ok {
		return u, nil
	}
	r, err := t.client.UploadRepository(t.host + "/" + name)
	if err != nil {
		return nil, err
	}
	if t.pool == nil {
		size := t.chunkSize()
		t.pool = transfer.NewChunkPool(int(streamBudget/size), size)
	}
	u := &transfer.Uploader{Repo: r, Pool: t.pool, Attempts: t.opts.Attempts, Backoff: t.opts.Backoff, Progress: t.opts.Progress, Dialect: &t.dialect}
	t.uploads[name] = u
	return u, nil
}

// hasBlob reports whether repo holds the blob.
func (t *target) hasBlob(ctx context.Context, repo string, desc ocispec.Descriptor) (bool, error) {
	r, err := t.repo(repo)
	if err != nil {
		return false, err
	}
	ok, err := r.Blobs().Exists(ctx, desc)
	return ok, remote.Classify(err)
}

// hasManifest reports whether repo holds the manifest or index dg.
func (t *target) hasManifest(ctx context.Context, repo string, dg digest.Digest) (bool, error) {
	r, err := t.repo(repo)
	if err != nil {
		return false, err
	}
	if _, err := r.Manifests().Resolve(ctx, dg.String()); err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("read %s/%s@%s: %w", t.host, repo, dg, remote.Classify(err))
	}
	return true, nil
}

// upload streams a blob into repo, verifying it on the way.
func (t *target) upload(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader) error {
	u, err := t.uploader(repo)
	if err != nil {
		return err
	}
	if err := u.Push(ctx, desc, r); err != nil {
		return fmt.Errorf("push blob %s to %s/%s: %w", desc.Digest, t.host, repo, err)
	}
	t.sent.Add(1)
	t.bytesSent.Add(desc.Size)
	return nil
}

// uploadAt sends a blob from a random-access source into repo, holding
// nothing in memory, verifying it on the way.
func (t *target) uploadAt(ctx context.Context, repo string, desc ocispec.Descriptor, ra io.ReaderAt) error {
	u, err := t.uploader(repo)
	if err != nil {
		return err
	}
	if err := u.PushAt(ctx, desc, ra); err != nil {
		return fmt.Errorf("push blob %s to %s/%s: %w", desc.Digest, t.host, repo, err)
	}
	t.sent.Add(1)
	t.bytesSent.Add(desc.Size)
	return nil
}

// spread makes a blob that is in b.repos[0] present in every other
// repository of b: skipped where it already is, mounted where the
// registry links it, copied through this process otherwise. held is the
// answer for b.repos[0] asked ahead (nil if none): for a blob held there,
// whether the others hold it is asked ahead too (checkAhead), and taken
// from there. fresh says that b.repos[0] did not hold the blob before this
// run put it there (uploaded, or mounted from the source): its other
// repositories are then asked to mount it at once, without asking first
// whether they hold it (a registry that holds it answers the mount 201 all
// the same, counted mounted): a HEAD and a mount in a row for each, one
// after another, were a fifth of the requests of a fresh import (the
// bench's 200 MiB release in 370 blobs: 1921 requests, 364 of them those
// HEADs). A mount refused (a registry without mounts, a token without pull
// on b.repos[0]) turns every spread after it to asking first, so that a
// blob a repository holds is not copied again.
func (t *target) spread(ctx context.Context, b *blobPlace, held *blobAnswer, fresh bool) error {
	others := held.othersOnceHeld()
	for i, repo := range b.repos[1:] {
		mountFirst := fresh && !t.mountsRefused.Load()
		if mountFirst {
			mounted, err := t.mount(ctx, b, repo)
			if err != nil {
				return err
			}
			if mounted {
				continue
			}
			t.mountsRefused.Store(true)
		}
		var ahead *blobAnswer
		if i < len(others) {
			ahead = others[i]
		}
		ok, err := t.hasBlobAhead(ctx, repo, b.desc, ahead)
		if err != nil {
			return err
		}
		if ok {
			t.skipped.Add(1)
			continue
		}
		if !mountFirst {
			mounted, err := t.mount(ctx, b, repo)
			if err != nil {
				return err
			}
			if mounted {
				continue
			}
		}
		from, err := t.repo(b.repos[0])
		if err != nil {
			return err
		}
		rc, err := from.Fetch(ctx, b.desc)
		if err != nil {
			return remote.Classify(err)
		}
		err = t.upload(ctx, repo, b.desc, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// mount asks the registry to link b from b.repos[0] into repo, and counts
// it if it did; false if the registry would rather have it sent.
func (t *target) mount(ctx context.Context, b *blobPlace, repo string) (bool, error) {
	u, err := t.uploader(repo)
	if err != nil {
		return false, err
	}
	mounted, err := u.Mount(ctx, b.desc, b.repos[0])
	if err != nil {
		return false, fmt.Errorf("mount blob %s into %s/%s: %w", b.desc.Digest, t.host, repo, err)
	}
	if mounted {
		t.mounted.Add(1)
	}
	return mounted, nil
}

// hasBlobAhead reports whether repo holds the blob: as ahead answers, if
// its question was claimed already (it waits for the answer), else asked
// now, and claimed so that it is not asked again. An ahead answer that
// failed (stopped, say, with the checks ahead) is asked again here.
func (t *target) hasBlobAhead(ctx context.Context, repo string, desc ocispec.Descriptor, ahead *blobAnswer) (bool, error) {
	if ahead == nil {
		return t.hasBlob(ctx, repo, desc)
	}
	if ahead.claimed.CompareAndSwap(false, true) {
		ok, err := t.hasBlob(ctx, repo, desc)
		ahead.give(ok, err)
		return ok, err
	}
	if ok, err := ahead.wait(ctx); err == nil || ctx.Err() != nil {
		return ok, err
	}
	return t.hasBlob(ctx, repo, desc)
}

// explain turns a registry's refusal of an unknown artifact type into an
// error that names the registry.
func (t *target) explain(err error) error {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnsupportedMediaType) {
		for _, e := range resp.Errors {
			if e.Code == errcode.ErrorCodeManifestInvalid || e.Code == errcode.ErrorCodeUnsupported || e.Code == "MANIFEST_UNSUPPORTED" {
				return fmt.Errorf("registry %s refused the manifest (it may not accept OCI artifact types): %w", t.host, err)
			}
		}
	}
	return remote.Classify(err)
}

// detectReferrers asks the registry, through a repository that holds
// manifests, whether it serves the referrers API, and makes every
// repository client use that mode.
func (t *target) detectReferrers(ctx context.Context, repo string, subject digest.Digest) (ReferrersMode, error) {
	r, err := t.repo(repo)
	if err != nil {
		return "", err
	}
	ctx = auth.AppendRepositoryScope(ctx, r.Reference, auth.ActionPull)
	scheme := "https"
	if r.PlainHTTP {
		scheme = "http"
	}
	url := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", scheme, t.host, repo, subject)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return "", remote.Classify(err)
	}
	defer resp.Body.Close()
	mode := ReferrersTagIndex
	if resp.StatusCode == http.StatusOK {
		var idx ocispec.Index
		err := json.NewDecoder(io.LimitReader(resp.Body, bundle.MaxManifestSize)).Decode(&idx)
		if err == nil && idx.MediaType == ocispec.MediaTypeImageIndex {
			mode = ReferrersAPI
		}
		if err != nil && resp.Header.Get("Content-Type") == ocispec.MediaTypeImageIndex {
			// Answered as the API by its Content-Type, which is all the
			// listing (oras-go) asks to read it as one: every listing of
			// referrers here fails so (import's rollback check, pull),
			// however the mode is taken.
			return "", fmt.Errorf("referrers of %s in %s/%s: the registry answers an image index (by its Content-Type) that is no JSON (a proxy's page, or a broken registry): %w", subject, t.host, repo, remote.ErrListing)
		}
	}
	t.mu.Lock()
	t.mode = mode
	t.mu.Unlock()
	return mode, t.setReferrersMode(mode)
}

// setReferrersMode tells every repository client how to push referrers.
func (t *target) setReferrersMode(mode ReferrersMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.repos {
		if err := r.SetReferrersCapability(mode == ReferrersAPI); err != nil && !errors.Is(err, oremote.ErrReferrersCapabilityAlreadySet) {
			return err
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(remote.Classify(err), errdef.ErrNotFound) }

// fetchManifest fetches and verifies a manifest from a repository.
func fetchManifest(ctx context.Context, r *oremote.Repository, d ocispec.Descriptor) ([]byte, error) {
	data, err := transfer.FetchBytes(ctx, r.Manifests(), d)
	if err != nil {
		return nil, remote.Classify(err)
	}
	return data, nil
}

// putBytes uploads a small blob held in memory, unless repo has it.
func (t *target) putBytes(ctx context.Context, repo string, desc ocispec.Descriptor, data []byte) error {
	ok, err := t.hasBlob(ctx, repo, desc)
	if err != nil || ok {
		if ok {
			t.skipped.Add(1)
		}
		return err
	}
	return t.upload(ctx, repo, desc, bytes.NewReader(data))
}

// streamBudget bounds the memory that streamed uploads hold together: the
// chunks read ahead and those waiting for the registry to take them.
const streamBudget = 48 << 20

// streamChunkSize is the chunk of an archive read as one stream. Its blobs
// come one after another, so a blob larger than the pool is sent by one
// upload at a time, and each request costs the registry a round trip and
// its hash state: one upload of 256 MiB to distribution runs at 372–378
// MB/s in 4 MiB requests, 398–410 in 8 MiB, 427–453 in 16 MiB
// (STELLA_BENCH_CHUNK_MIB=N go test -bench BenchmarkUploader/stream
// ./pkg/transfer). 8 MiB leaves six chunks in the pool, one for each of the
// streamPipeline blobs in flight and two to read ahead (with 16 MiB, three
// blobs of a few MiB would fill it).
const streamChunkSize = 8 << 20

// chunkSize is the chunk of a streamed upload: for an archive read as one
// stream, streamChunkSize; otherwise the budget shared among the uploads
// in flight, two chunks each, between 4 and 16 MiB.
func (t *target) chunkSize() int64 {
	if t.streamed {
		return streamChunkSize
	}
	inFlight := int64(concurrency(t.opts.Concurrency))
	return min(max(streamBudget/(2*inFlight), 4<<20), transfer.DefaultChunkSize)
}
