package mirror

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// readAhead starts, as soon as the root is read, what comes after the
// signing of its bundle. For a reader that reads the whole graph next
// (walk), its documents: what the root lists (every image and every
// image's referrer: CheckRoot holds it to what manifest.json names) but
// the metadata manifest, which open reads itself, and what is below them.
// Two levels of image manifests and their referrers were two round trips
// after the signing on the chain of every pull, sync and import from a
// registry. They are fetched by the digests the root pins, held under the
// bound as any document of the bundle is, and nothing is taken from them
// before the signing verifies: a failed fetch is left for the walk to
// meet. The fetches run on past the open (rs.ahead), not waited for
// there: a bundle refused (its signature, its checks) is refused at once,
// however slowly the registry serves its documents, and the source's
// close ends them. versionRead, if set, is told the version the root
// names (manifest.json's, once the checks bind the two). Nothing is parsed
// here but the root: manifest.json, 2.7 MB for 3000 images, took a third
// of a second to parse, and is parsed once the signing verifies.
func (rs *registrySource) readAhead(ctx context.Context, root *ocispec.Index, metaDesc ocispec.Descriptor) {
	if rs.versionRead != nil {
		rs.versionRead(root.Annotations[ocispec.AnnotationVersion])
	}
	if !rs.walk {
		return
	}
	roots := slices.DeleteFunc(slices.Clone(root.Manifests), func(d ocispec.Descriptor) bool { return d.Digest == metaDesc.Digest })
	ctx, cancel := context.WithCancel(ctx)
	a := &docsAhead{cancel: cancel, done: make(chan struct{})}
	rs.ahead = a
	go func() {
		defer close(a.done)
		// A panic (a bug) leaves a.all false: the documents are fetched
		// again after the signing verified, by the prefetch, which
		// reports its own panic; it is not the run's end here.
		defer errdef.Recover(new(error))
		a.all = rs.fetchLevels(ctx, roots, a.budgeted(rs.doc))
		if docsAheadDone != nil {
			docsAheadDone()
		}
	}()
}

// maxDocsAhead bounds the bytes of documents readAhead asks for. They are
// fetched before the bundle's signature is weighed, on the word of a root
// that anyone who may push to the repository can forge; without this
// bound a forged root listing large documents cost up to maxBundleDocs
// (128 MiB) of fetches and memory before its refusal. A release of 3000
// images has some 8 MiB of documents, so every release this side of the
// largest is fetched ahead whole; what is past the bound is fetched after
// the signing verified, by the prefetch (fetchedAll reports false). A
// variable only so that tests can lower it.
var maxDocsAhead int64 = 16 << 20

// docsAheadDone, if set (by a test, before the read starts), is called
// when readAhead's fetches have ended.
var docsAheadDone func()

// errAheadSpent: a document readAhead leaves to the prefetch, past
// maxDocsAhead.
var errAheadSpent = errors.New("past the bound on documents fetched before the signature is weighed")

// docsAhead is the documents' prefetch readAhead started. A nil one is
// none.
type docsAhead struct {
	cancel context.CancelFunc
	done   chan struct{}
	all    bool // every fetch sent succeeded; read once done is closed
	// asked counts the bytes of the documents asked for (maxDocsAhead),
	// those refused for the bound included, so that what is fetched stays
	// under it whatever the order the fetches are sent in.
	asked atomic.Int64
}

// budgeted is fetch, bounded by maxDocsAhead: a document past the bound
// is not asked for.
func (a *docsAhead) budgeted(fetch func(context.Context, ocispec.Descriptor) ([]byte, error)) func(context.Context, ocispec.Descriptor) ([]byte, error) {
	return func(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
		if a.asked.Add(max(desc.Size, 0)) > maxDocsAhead {
			return nil, errAheadSpent
		}
		return fetch(ctx, desc)
	}
}

// fetchedAll waits for the prefetch (or ctx's end) and reports whether
// it fetched every document it went to.
func (a *docsAhead) fetchedAll(ctx context.Context) bool {
	if a == nil {
		return false
	}
	select {
	case <-a.done:
		return a.all
	case <-ctx.Done():
		return false
	}
}

// stop ends the prefetch and waits for the fetches in flight.
func (a *docsAhead) stop() {
	if a != nil {
		a.cancel()
		<-a.done
	}
}
