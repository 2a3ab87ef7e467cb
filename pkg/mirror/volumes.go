package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/stellaops/mirror/internal/errgroup"
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
	// Only the first bad volumes by number are kept and named, the rest
	// counted: a list may name some 30,000 volumes, and an error held and
	// named for each took 235 MiB, an error line of 57 MB.
	var (
		mu    sync.Mutex
		bad   []badVolume
		count int
	)
	keep := func() {
		slices.SortFunc(bad, func(a, b badVolume) int { return a.i - b.i })
		bad = bad[:min(len(bad), maxNamedInError)]
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(limit))
	for i, v := range vs.Volumes {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			if err := vs.Check(v); err != nil {
				mu.Lock()
				defer mu.Unlock()
				count++
				if bad = append(bad, badVolume{i, err}); len(bad) >= 2*maxNamedInError {
					keep()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	keep()
	// The first bad volume goes last, wrapped: its message already ends
	// with the kind of failure, which then ends the line once and sets the
	// exit code.
	if count > 0 {
		var others strings.Builder
		for _, b := range bad[1:] {
			others.WriteString(b.err.Error() + "; ")
		}
		if more := count - len(bad); more > 0 {
			fmt.Fprintf(&others, "and %d more; ", more)
		}
		first := bad[0].err
		if sentinelOf(first) != nil {
			return nil, fmt.Errorf("%s: %d of %d volumes bad: %s%w", list, count, len(vs.Volumes), others.String(), first)
		}
		return nil, fmt.Errorf("%s: %d of %d volumes bad: %s%v: %w", list, count, len(vs.Volumes), others.String(), first, errdef.ErrDigestMismatch)
	}
	return res, nil
}

// badVolume is a volume that failed its check: its number in the list.
type badVolume struct {
	i   int
	err error
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
