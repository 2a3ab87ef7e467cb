package transfer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// DefaultConcurrency is the number of blobs copied at once when
// Options.Concurrency is zero.
const DefaultConcurrency = 8

// MaxConcurrency bounds the --concurrency a user may give. Each blob in
// flight holds an open file and a connection, and a quarter as many small
// blobs go beside them, with the HEADs asked ahead: 100000 opened a file
// for every blob of a bundle at once, past a `ulimit -n` of 1024, and as
// many connections to one registry. 256 is far more than a link fills.
const MaxConcurrency = 256

// DefaultAttempts is how often one blob is tried when Options.Attempts is
// zero: a body cut short or a dropped connection is retried from the start.
const DefaultAttempts = 5

// Job is one blob to copy from Src to Dst.
type Job struct {
	Desc ocispec.Descriptor
	Src  content.Fetcher
	Dst  content.Pusher
	// For, if set, is what the blob is copied for ("image REF
	// (FILE:LINE)"), which its error names before the blob: a layer
	// the source lacks is then found in the release file at once, not
	// searched for by digest.
	For string
}

// Options control a copy. The zero value copies DefaultConcurrency blobs at
// once, tries each DefaultAttempts times, and reports nothing.
type Options struct {
	// Concurrency is how many blobs are in flight at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Attempts is how many times a blob is tried before giving up; 0 means
	// DefaultAttempts.
	Attempts int
	// Backoff is the wait before the second attempt, doubled each time up to
	// 8 seconds; 0 means 250ms.
	Backoff time.Duration
	// Progress, if set, receives every copied byte count as it happens and
	// the end of each blob.
	Progress Progress
}

// Progress receives copy events. Implementations must be safe for
// concurrent use.
type Progress interface {
	// Start is called when a blob copy (or a retry of one) begins.
	Start(desc ocispec.Descriptor)
	// Add is called with each chunk of bytes copied for desc.
	Add(desc ocispec.Descriptor, n int64)
	// Done is called once per blob with the final error (nil on success).
	Done(desc ocispec.Descriptor, err error)
}

// Stats count what a copy moved.
type Stats struct {
	Blobs   int64
	Bytes   int64
	Retries int64
}

// CopyBlobs copies every job's blob, Options.Concurrency at a time, largest
// first. The destination verifies what it is given (a bundle directory does;
// wrap a registry with Verified), and transient faults are retried from the
// start of the blob with backoff. The first permanent error cancels the rest.
func CopyBlobs(ctx context.Context, jobs []Job, opts Options) (Stats, error) {
	var stats Stats
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(opts.Concurrency))
	for _, job := range LargestFirst(jobs, func(j Job) int64 { return j.Desc.Size }) {
		g.Go(func() (err error) {
			// A panic is this blob's error, not the process's end
			// (errgroup does not recover it): exit code 2 is a digest
			// mismatch's.
			defer errdef.Recover(&err)
			n, retries, err := copyOne(ctx, job, opts)
			atomic.AddInt64(&stats.Retries, int64(retries))
			if err != nil {
				return err
			}
			atomic.AddInt64(&stats.Blobs, 1)
			atomic.AddInt64(&stats.Bytes, n)
			return nil
		})
	}
	err := g.Wait()
	return stats, err
}

func concurrency(n int) int {
	if n <= 0 {
		return DefaultConcurrency
	}
	return n
}

func copyOne(ctx context.Context, job Job, opts Options) (int64, int, error) {
	retries, err := retryLoop(ctx, opts.Attempts, opts.Backoff, func() (bool, error) {
		if opts.Progress != nil {
			opts.Progress.Start(job.Desc)
		}
		err := copyAttempt(ctx, job, opts.Progress, min(maxResumes, freeTries(opts.Attempts)))
		return remote.IsTransient(err), err
	})
	if opts.Progress != nil {
		opts.Progress.Done(job.Desc, err)
	}
	if err != nil {
		what := "blob"
		if job.For != "" {
			what = job.For + ": blob"
		}
		// Classified before it is wrapped: the query of a storage URL
		// the registry redirected to (a presigned signature) is dropped
		// from the error before its message is put into this one's.
		err = remote.Classify(err)
		if strings.HasPrefix(err.Error(), job.Desc.Digest.String()+": ") {
			// It names the digest itself ("sha256:…: content hashes
			// to …", "sha256:…: not found"): not twice.
			return 0, retries, fmt.Errorf("%s %w", what, err)
		}
		return 0, retries, fmt.Errorf("%s %s: %w", what, job.Desc.Digest, err)
	}
	return job.Desc.Size, retries, nil
}

// maxResumes bounds the ranged requests one try of a blob copy makes to
// go on after its answer broke off; fewer when few retries are allowed
// (none with --retries 0).
const maxResumes = 16

func copyAttempt(ctx context.Context, job Job, progress Progress, resumes int) error {
	rc, err := job.Src.Fetch(remote.Streaming(ctx), job.Desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if rs, ok := rc.(io.ReadSeeker); ok {
		r = newResumingReader(rs, job.Desc.Size, resumes)
	}
	if progress != nil {
		r = &progressReader{r: r, desc: job.Desc, p: progress}
	}
	return job.Dst.Push(ctx, job.Desc, r)
}

// Verified wraps a pusher so that every push streams through
// bundle.VerifyReader: the destination sees a read error instead of the end
// of bad content, so it never commits it. A bundle directory verifies on its
// own and needs no wrapping; a registry should not be trusted to.
func Verified(dst content.Pusher) content.Pusher { return verifiedPusher{dst} }

type verifiedPusher struct{ content.Pusher }

func (v verifiedPusher) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	return v.Pusher.Push(ctx, desc, bundle.NewVerifyReader(r, desc))
}

type progressReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	p    Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.p.Add(p.desc, int64(n))
	}
	return n, err
}
