package bundle

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// NestTooDeep refuses d, a manifest or index met levels below top, the
// document a walk began at (an image as pinned, a referrer), when that is
// deeper than MaxDepth below a bundle's root index, which lists top one
// level up. create's walk of an image and its search of an index for one
// platform's manifest both refuse in these words, which name the document
// too deep and where it is: a bundle holding it would be refused by every
// reader (errdef.ErrMalformed). The error is a *NestError.
func NestTooDeep(d ocispec.Descriptor, levels int, top digest.Digest) error {
	return &NestError{Desc: d, Levels: levels, Top: top}
}

// NestError is NestTooDeep's refusal.
type NestError struct {
	Desc   ocispec.Descriptor // the document too deep
	Levels int                // how far below Top
	Top    digest.Digest      // the document the walk began at
	// TopName, set by a caller whose message names Top already, is what
	// Top is called instead of its digest: "the pinned index" for an
	// image's reference pinned by its digest (PinnedOnce), "the referrer"
	// for a referrer a warning names.
	TopName string
}

func (e *NestError) Error() string {
	kind := "manifest"
	if IsIndexMediaType(e.Desc.MediaType) {
		kind = "index"
	}
	top := e.Top.String()
	if e.TopName != "" {
		top = e.TopName
	}
	return fmt.Sprintf("%s %s, %d levels below %s (%d below the bundle's root index): indexes nest deeper than %d: %v",
		kind, e.Desc.Digest, e.Levels, top, e.Levels+1, MaxDepth, errdef.ErrMalformed)
}

func (e *NestError) Unwrap() error { return errdef.ErrMalformed }

// PinnedOnce is err with a refusal of nesting below pinned (a *NestError
// that err is), or of an entry pinned lists (an *EntryError), saying "the
// pinned index" rather than pinned's digest: the message it goes into
// names the image by a reference that gives that digest already. Any
// other err is returned as it is.
func PinnedOnce(err error, pinned digest.Digest) error {
	if pinned == "" {
		return err
	}
	switch e := err.(type) {
	case *NestError:
		if e.Top == pinned {
			c := *e
			c.TopName = "the pinned index"
			return &c
		}
	case *EntryError:
		if e.Index == pinned {
			c := *e
			c.Pinned = true
			return &c
		}
	}
	return err
}
