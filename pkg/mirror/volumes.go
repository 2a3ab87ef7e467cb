package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// VolumesResult is what a check of a volume set found.
type VolumesResult struct {
	List    string          `json:"list"`
	Volumes []layout.Volume `json:"volumes"`
	Size    int64           `json:"size"`
	Signer  *Signer         `json:"signer,omitempty"`
}

// VerifyVolumes checks a split archive: with trust, the signature on its
// list first; then every volume on its own, present, of its size, hashing
// right. Every bad or missing volume is named.
func VerifyVolumes(ctx context.Context, list string, trust TrustOptions, limit int) (*VolumesResult, error) {
	vs, data, err := layout.OpenVolumeSet(list)
	if err != nil {
		return nil, err
	}
	res := &VolumesResult{List: list, Volumes: vs.Volumes, Size: vs.Size}
	if !trust.Empty() {
		// The envelope comes off the same media as the volumes: it is
		// read no further than an envelope may be.
		sigFile := strings.TrimSuffix(list, ".json") + ".dsse"
		env, err := readFileBounded(sigFile, sigFile, dsse.MaxEnvelopeSize)
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("%s: no signature beside it: %w", list, errdef.ErrSignature)
		}
		if err != nil {
			return nil, err
		}
		sig, err := verifyDocument(ctx, env, PayloadTypeVolumes, data, trust)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", list, err)
		}
		if len(sig.Signers) > 0 {
			res.Signer = &sig.Signers[0]
		}
	}
	problems := make([]error, len(vs.Volumes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(limit))
	for i, v := range vs.Volumes {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			problems[i] = vs.Check(v)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The first bad volume goes last, wrapped: its message already ends
	// with the kind of failure, which then ends the line once and sets the
	// exit code.
	var others []string
	var first error
	for _, p := range problems {
		switch {
		case p == nil:
		case first == nil:
			first = p
		default:
			others = append(others, p.Error()+"; ")
		}
	}
	if first != nil {
		if sentinelOf(first) != nil {
			return nil, fmt.Errorf("%s: %d of %d volumes bad: %s%w", list, len(others)+1, len(vs.Volumes), strings.Join(others, ""), first)
		}
		return nil, fmt.Errorf("%s: %d of %d volumes bad: %s%v: %w", list, len(others)+1, len(vs.Volumes), strings.Join(others, ""), first, errdef.ErrDigestMismatch)
	}
	return res, nil
}

// sentinelOf picks the errdef sentinel an error carries (missing volumes
// are ErrNotFound, corrupt ones ErrDigestMismatch), or nil.
func sentinelOf(err error) error {
	for _, s := range []error{errdef.ErrDigestMismatch, errdef.ErrNotFound, errdef.ErrMalformed} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
