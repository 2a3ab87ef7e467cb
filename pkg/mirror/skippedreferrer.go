package mirror

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/transfer"
)

// warnSkippedReferrers names, one warning each, the referrers of image
// (and manifests under its cosign tags) that create does not carry, and
// why: anyone who may push to the source can attach one no registry or
// bundle reader takes, and it must neither stop the release nor be
// dropped without a word (the operator would believe it crossed).
func warnSkippedReferrers(log *slog.Logger, image string, skipped []transfer.Referrer) {
	for _, r := range skipped {
		attrs := []any{"image", image, "referrer", r.Descriptor.Digest, "mediaType", r.Descriptor.MediaType, "subject", r.Subject}
		if r.Tag != "" {
			attrs = append(attrs, "tag", r.Tag)
		}
		if r.Refused == nil {
			log.Warn("referrer not carried: its media type is no image manifest or index", attrs...)
			continue
		}
		log.Warn("referrer not carried: "+refusalReason(r.Refused), append(attrs, "error", refusalNamedOnce(r))...)
	}
}

// refusalReason says in a few words why a referrer was refused
// (transfer.Referrer.Refused).
func refusalReason(err error) string {
	var entry *bundle.EntryError
	var nest *bundle.NestError
	var subject *transfer.SubjectError
	var doc *transfer.DocumentError
	var chain *transfer.ChainError
	var blob *transfer.ListedBlobError
	switch {
	case errors.As(err, &entry):
		return "an index of it lists an entry that is no image manifest or index, which a registry refuses"
	case errors.As(err, &nest):
		return "its indexes nest deeper than a bundle's readers take"
	case errors.As(err, &subject):
		return "it names another subject than the one it is listed for"
	case errors.As(err, &blob):
		return "the listing names a layer or config of the image, not a manifest"
	case errors.As(err, &chain):
		return fmt.Sprintf("it is %d referrers below the image (a referrer of a referrer of …), past the %d create follows", chain.Levels, bundle.MaxDepth)
	case errors.As(err, &doc):
		return "it, or a document under it, is malformed"
	default:
		return "a registry or a bundle's reader would refuse it"
	}
}

// refusalNamedOnce is r's refusal in words that do not name r a second
// time, where the warning names it already: indexes nested too deep below
// it are said to be below "the referrer", and the "sha256:R: " or
// "referrer sha256:R " its words begin with is left out.
func refusalNamedOnce(r transfer.Referrer) string {
	err := r.Refused
	var nest *bundle.NestError
	if errors.As(err, &nest) && nest.Top == r.Descriptor.Digest {
		c := *nest
		c.TopName = "the referrer"
		err = &c
	}
	msg := err.Error()
	for _, prefix := range []string{r.Descriptor.Digest.String() + ": ", "referrer " + r.Descriptor.Digest.String() + " "} {
		if rest, ok := strings.CutPrefix(msg, prefix); ok {
			return rest
		}
	}
	return msg
}
