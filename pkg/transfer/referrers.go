package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// ReferrerSource is a store that can list the referrers of a manifest (a
// remote repository does, through the referrers API or the fallback tag).
type ReferrerSource interface {
	content.Fetcher
	registry.ReferrerLister
}

// MaxReferrers bounds how many referrers one subject may bring along; a
// registry answer is hostile input too.
const MaxReferrers = 1000

// Referrer is a referrer manifest with the subject it refers to.
type Referrer struct {
	Descriptor ocispec.Descriptor
	Subject    digest.Digest
	// Tag is set for a manifest attached by cosign's tag scheme: the tag
	// naming it, which its subject's digest makes (no subject field).
	Tag string
	// Refused is set for a referrer of Graph.Skipped whose media type is
	// a manifest's, but which a registry or a bundle's reader refuses: it
	// is, or holds, an index listing an entry no registry takes as a
	// manifest (a *bundle.EntryError) or another document written so that
	// no reader takes it (a *DocumentError: a manifest whose config or
	// layer claims a manifest's media type, say), it holds indexes nesting
	// deeper than a bundle may (a *bundle.NestError), or it names another
	// subject than the one it is listed for (a *SubjectError).
	Refused error
}

// DocumentError is a manifest or index of a walk, Digest, that the walk
// fetched and verified but that bundle.Children refuses as it is written
// (errdef.ErrMalformed, Err saying why): a config or layer claiming a
// manifest's media type, say. A registry or a bundle's reader would
// refuse it too. An index listing an entry no registry takes as a
// manifest is refused with a *bundle.EntryError instead, which names the
// entry.
type DocumentError struct {
	Digest digest.Digest
	Err    error
}

func (e *DocumentError) Error() string { return e.Err.Error() }

func (e *DocumentError) Unwrap() error { return e.Err }

// ChainError is a referrer, Referrer, of Subject, itself a referrer of a
// referrer (or a manifest under a cosign tag of one), that is Levels
// referrers below the image: past the bundle.MaxDepth levels a walk
// follows, which bound what a source can make it fetch
// (errdef.ErrMalformed). A walk passes it over, as it does a referrer no
// reader takes: anyone who may push to the source can chain one.
type ChainError struct {
	Referrer, Subject digest.Digest
	Levels            int
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("referrer %s of %s is %d referrers below the image, past the %d a walk follows: %v",
		e.Referrer, e.Subject, e.Levels, bundle.MaxDepth, errdef.ErrMalformed)
}

func (e *ChainError) Unwrap() error { return errdef.ErrMalformed }

// ListedBlobError is a referrer listed for Listed whose digest the graph
// holds as a blob (a layer or a config), not a manifest, whatever media
// type the listing gives it (errdef.ErrMalformed): a fallback tag's index
// anyone who may push can write.
type ListedBlobError struct {
	Referrer, Listed digest.Digest
}

func (e *ListedBlobError) Error() string {
	return fmt.Sprintf("referrer %s listed for %s is a blob of the graph (a layer or a config), not a manifest: %v", e.Referrer, e.Listed, errdef.ErrMalformed)
}

func (e *ListedBlobError) Unwrap() error { return errdef.ErrMalformed }

// SubjectError is a referrer listed for Listed whose manifest names
// another subject, Named (errdef.ErrMalformed): a fallback tag's index
// anyone who may push can write, or a registry's listing gone wrong.
type SubjectError struct {
	Referrer, Listed, Named digest.Digest
}

func (e *SubjectError) Error() string {
	return fmt.Sprintf("referrer %s listed for %s names subject %q: %v", e.Referrer, e.Listed, e.Named, errdef.ErrMalformed)
}

func (e *SubjectError) Unwrap() error { return errdef.ErrMalformed }

// MissingReferrerError is a referrer that a listing names and the source
// does not hold (its fetch was answered not found): one deleted while the
// listing, a fallback tag's index say, still names it. The walk fails on
// it, as on any referrer it cannot carry: a signature that is gone may be
// the one that matters.
type MissingReferrerError struct {
	Referrer, Subject digest.Digest
	Err               error // the fetch's
}

func (e *MissingReferrerError) Error() string {
	return fmt.Sprintf("%s: %v", referrerOf(e.Referrer, e.Subject, e.Err), e.Err)
}

// referrerOf names referrer r of subject s, as the start of the message of
// err, an error of its walk: r is left out where err names it first
// ("manifest sha256:…: content hashes to …"), so as to name it once.
func referrerOf(r, s digest.Digest, err error) string {
	if startsWith(err, r) || strings.HasPrefix(err.Error(), "manifest "+r.String()+": ") {
		return "referrer of " + s.String()
	}
	return "referrer " + r.String() + " of " + s.String()
}

func (e *MissingReferrerError) Unwrap() error { return e.Err }

// WalkReferrers finds the referrers of subject in src, and theirs in turn (up
// to bundle.MaxDepth levels), adds each with everything below it to the
// graph, and returns them sorted by digest within each level. A referrer
// that is no image manifest or index, one a registry or a bundle's reader
// would refuse (WalkReferrer), and one listed past the bound (with a
// *ChainError) are added to g.Skipped instead.
func (g *Graph) WalkReferrers(ctx context.Context, src ReferrerSource, subject ocispec.Descriptor) ([]Referrer, error) {
	return g.WalkReferrersOf(ctx, src, []ocispec.Descriptor{subject})
}

// WalkReferrersOf is WalkReferrers of each of subjects, one after another:
// the graph and the referrers it returns (each subject's in turn) are
// those. The round trips are not: a level of the walk lists every
// subject's referrers at once, then fetches every referrer's document at
// once (at most Fetches in flight), before the walk goes over the answers
// in its own order. An error is the one the walk meets first in that
// order.
func (g *Graph) WalkReferrersOf(ctx context.Context, src ReferrerSource, subjects []ocispec.Descriptor) ([]Referrer, error) {
	g.unseal()
	listed, ahead := g.listReferrers(ctx, src, subjects)
	var out []Referrer
	for _, s := range subjects {
		refs, err := g.walkReferrers(ctx, src, s, listed, ahead)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

// listing is a subject's referrers as src listed them, or the error it
// answered; done once src was asked.
type listing struct {
	found []ocispec.Descriptor
	err   error
	done  bool
}

// listReferrers lists the referrers of subjects a level at a time: each
// level's listings at once (at most Fetches in flight), then the documents
// of the manifests they list, with what is below them, at once (through
// the graph's fetch, so its budget is asked before each); the next level
// lists the referrers of those that were fetched and name the subject that
// listed them, as a walk of one referrer after another would. Nothing is
// listed of a referrer not fetched and checked first: a listing (up to
// MaxReferrers descriptors) is the source's word, and only the documents,
// counted by the graph's fetch, bound how far the walk goes, with
// bundle.MaxDepth levels: the last level's listings are taken and nothing
// they list is fetched, since the walk passes it over. It returns the
// listings by subject and the documents fetched, for walkReferrers.
func (g *Graph) listReferrers(ctx context.Context, src ReferrerSource, subjects []ocispec.Descriptor) (map[digest.Digest]listing, map[digest.Digest]Fetched) {
	out := map[digest.Digest]listing{}
	ahead := map[digest.Digest]Fetched{}
	var level []ocispec.Descriptor
	for _, s := range subjects {
		if _, ok := out[s.Digest]; !ok {
			out[s.Digest] = listing{}
			level = append(level, s)
		}
	}
	fetch := g.fetcher()
	for depth := 0; len(level) > 0 && depth <= bundle.MaxDepth; depth++ {
		got := make([]listing, len(level))
		var eg errgroup.Group
		eg.SetLimit(g.fetches())
		for i, s := range level {
			eg.Go(func() error {
				defer func() { got[i].done = true }()
				defer errdef.Recover(&got[i].err) // not the process's end
				got[i].found, got[i].err = listReferrers(ctx, src, s)
				return nil // kept for the walk, which reports it in its order
			})
		}
		_ = eg.Wait()
		for i, s := range level {
			out[s.Digest] = got[i]
		}
		if depth == bundle.MaxDepth {
			break // what these list, past the bound, is passed over unread
		}
		var docs []ocispec.Descriptor
		for i := range level {
			docs = append(docs, got[i].found...)
		}
		// Sorted, so that the documents fetched, and a budget's refusal
		// among them, do not depend on the listings' order.
		sort.Slice(docs, func(i, j int) bool { return docs[i].Digest < docs[j].Digest })
		fetched := FetchLevels(ctx, docs, rootDepth, g.fetches(),
			func(dg digest.Digest) bool { _, held := ahead[dg]; return held || g.seen[dg] },
			func(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) { return fetch(ctx, src, desc) })
		for dg, f := range fetched {
			ahead[dg] = f
		}
		var next []ocispec.Descriptor
		for i, s := range level {
			for _, r := range got[i].found {
				if _, ok := out[r.Digest]; ok || !bundle.IsManifestMediaType(r.MediaType) {
					continue
				}
				if data, ok := g.fetchedDoc(r.Digest, ahead); ok && bundle.SubjectOf(data) == s.Digest {
					out[r.Digest] = listing{}
					next = append(next, r)
				}
			}
		}
		level = next
	}
	return out, ahead
}

// fetchedDoc is the document dg as fetched ahead, else as the graph holds
// it.
func (g *Graph) fetchedDoc(dg digest.Digest, ahead map[digest.Digest]Fetched) ([]byte, bool) {
	if f, ok := ahead[dg]; ok {
		return f.Data, f.Err == nil
	}
	if i, ok := g.nodes[dg]; ok {
		return g.Nodes[i].Bytes, true
	}
	return nil, false
}

// listReferrers lists the referrers of s, sorted by digest.
func listReferrers(ctx context.Context, src ReferrerSource, s ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var found []ocispec.Descriptor
	err := src.Referrers(ctx, plain(s), "", func(page []ocispec.Descriptor) error {
		found = append(found, page...)
		if len(found) > MaxReferrers {
			return fmt.Errorf("%s: more than %d referrers: %w", s.Digest, MaxReferrers, errdef.ErrMalformed)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", s.Digest, err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Digest < found[j].Digest })
	return found, nil
}

// walkReferrers walks the referrers of subject as WalkReferrers does,
// taking each listing from listed and each document from ahead where they
// are, else from src.
func (g *Graph) walkReferrers(ctx context.Context, src ReferrerSource, subject ocispec.Descriptor, listed map[digest.Digest]listing, ahead map[digest.Digest]Fetched) ([]Referrer, error) {
	var out []Referrer
	level := []ocispec.Descriptor{subject}
	seen := map[digest.Digest]bool{subject.Digest: true}
	for depth := 0; len(level) > 0; depth++ {
		// Past the bound, what the level lists is passed over, not walked.
		tooDeep := depth >= bundle.MaxDepth
		var next []ocispec.Descriptor
		for _, s := range level {
			l := listed[s.Digest]
			if !l.done {
				l.found, l.err = listReferrers(ctx, src, s)
			}
			if l.err != nil {
				return nil, l.err
			}
			for _, r := range l.found {
				if seen[r.Digest] {
					continue
				}
				if tooDeep {
					seen[r.Digest] = true
					if !g.Has(r.Digest) {
						g.Skipped = append(g.Skipped, Referrer{Descriptor: plain(r), Subject: s.Digest,
							Refused: &ChainError{Referrer: r.Digest, Subject: s.Digest, Levels: depth + 1}})
					}
					continue
				}
				if !bundle.IsManifestMediaType(r.MediaType) {
					seen[r.Digest] = true
					g.Skipped = append(g.Skipped, Referrer{Descriptor: plain(r), Subject: s.Digest})
					continue
				}
				seen[r.Digest] = true
				if _, held := g.nodes[r.Digest]; !held && g.seen[r.Digest] {
					// Walk fetches nothing for a digest already in the
					// graph: one held as a blob (a layer or config) is
					// no manifest, whatever the listing says.
					g.Skipped = append(g.Skipped, Referrer{Descriptor: plain(r), Subject: s.Digest,
						Refused: &ListedBlobError{Referrer: r.Digest, Listed: s.Digest}})
					continue
				}
				skipped, err := g.walkReferrer(ctx, src, Referrer{Descriptor: plain(r), Subject: s.Digest}, ahead)
				if err != nil {
					if _, held := g.nodes[r.Digest]; !held && errors.Is(remote.Classify(err), errdef.ErrNotFound) {
						return nil, &MissingReferrerError{Referrer: r.Digest, Subject: s.Digest, Err: err}
					}
					return nil, fmt.Errorf("%s: %w", referrerOf(r.Digest, s.Digest, err), err)
				}
				if skipped {
					continue
				}
				i, ok := g.nodes[r.Digest]
				if !ok { // a walk that passed adds a manifest's node
					return nil, fmt.Errorf("referrer %s listed for %s: not in the graph after its walk: %w", r.Digest, s.Digest, errdef.ErrMalformed)
				}
				n := &g.Nodes[i]
				// What the referrer is comes from the verified manifest, as
				// the referrers API derives it, not from the listing's claim.
				r.ArtifactType = artifactTypeOf(n.Bytes)
				n.Descriptor.ArtifactType = r.ArtifactType
				out = append(out, Referrer{Descriptor: plain(r), Subject: s.Digest})
				next = append(next, r)
			}
		}
		level = next
	}
	return out, nil
}

// WalkReferrer adds referrer r, with everything below it, to the graph, as
// WalkReferrers adds each it finds. A referrer a registry or a bundle's
// reader would refuse (see Referrer.Refused: one that is, or holds, an
// index listing an OCI artifact manifest or a manifest whose layer claims
// a manifest's media type, say, or one naming another
// subject than r.Subject, checked unless r is a cosign tag's) is passed
// over as one of a media type no bundle carries is: what its walk added
// is taken back, it is added to g.Skipped with the refusal, and skipped is
// true. Any other error is the walk's. A referrer passed over is one
// anyone who may push to the source can attach: it must not keep the
// image, and its good signatures, from crossing.
func (g *Graph) WalkReferrer(ctx context.Context, src content.Fetcher, r Referrer) (skipped bool, err error) {
	return g.walkReferrer(ctx, src, r, nil)
}

func (g *Graph) walkReferrer(ctx context.Context, src content.Fetcher, r Referrer, ahead map[digest.Digest]Fetched) (bool, error) {
	g.unseal()
	nodes, blobs := len(g.Nodes), len(g.Blobs)
	err := g.walk(ctx, src, r.Descriptor, rootDepth, ahead)
	if err == nil && r.Tag == "" {
		err = g.checkSubject(r)
	}
	var entry *bundle.EntryError
	var doc *DocumentError
	var nest *bundle.NestError
	var subject *SubjectError
	if !errors.As(err, &entry) && !errors.As(err, &doc) && !errors.As(err, &nest) && !errors.As(err, &subject) {
		return false, err
	}
	g.takeBack(nodes, blobs)
	r.Refused = err
	g.Skipped = append(g.Skipped, r)
	return true, nil
}

// checkSubject refuses referrer r, as the graph holds it, when it names
// another subject than r.Subject. One the graph holds as a blob is left
// to the caller.
func (g *Graph) checkSubject(r Referrer) error {
	i, ok := g.nodes[r.Descriptor.Digest]
	if !ok {
		return nil
	}
	if got := bundle.SubjectOf(g.Nodes[i].Bytes); got != r.Subject {
		return &SubjectError{Referrer: r.Descriptor.Digest, Listed: r.Subject, Named: got}
	}
	return nil
}

// takeBack removes the nodes and blobs added after the graph held nodes
// and blobs of them: a walk only adds what the graph did not hold.
func (g *Graph) takeBack(nodes, blobs int) {
	for _, n := range g.Nodes[nodes:] {
		delete(g.seen, n.Descriptor.Digest)
		delete(g.nodes, n.Descriptor.Digest)
	}
	for _, b := range g.Blobs[blobs:] {
		delete(g.seen, b.Digest)
	}
	g.Nodes, g.Blobs = g.Nodes[:nodes], g.Blobs[:blobs]
}

// artifactTypeOf is a manifest's artifactType as the referrers API reports
// it: its artifactType field, else (an image manifest) its config's media
// type.
func artifactTypeOf(data []byte) string {
	var doc struct {
		ArtifactType string `json:"artifactType"`
		Config       *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	if doc.ArtifactType == "" && doc.Config != nil {
		return doc.Config.MediaType
	}
	return doc.ArtifactType
}
