package mirror

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// cleanupTimeout bounds the cleanup of an interrupted doctor.
const cleanupTimeout = 10 * time.Second

// cleanup deletes what the probe wrote: the fallback tag, every probe
// manifest (newest first) and the probe blob. The empty config blob stays:
// it is shared with any artifact in the repository. Deletes are raw
// requests, so that no client-side referrers bookkeeping runs.
func (p *probe) cleanup(ctx context.Context, r *oremote.Repository) {
	if len(p.written) == 0 && len(p.blobsIn) == 0 {
		return
	}
	if ctx.Err() != nil {
		// Interrupted (Ctrl-C): what was written is still deleted, within
		// a bound, so that no probe tag is left for good.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
	}
	ctx = auth.AppendRepositoryScope(ctx, r.Reference, auth.ActionPull, auth.ActionPush, auth.ActionDelete)
	var refused []string // why, once per distinct answer
	refuse := func(err error) {
		if !slices.Contains(refused, err.Error()) {
			refused = append(refused, err.Error())
		}
	}
	tagRefusals := map[string]error{} // a tag the registry would not delete by name
	for _, tag := range p.tags {
		if err := p.delete(ctx, r, p.repo, "manifests", tag); err != nil {
			tagRefusals[tag] = err
		}
	}
	manifestsLeft := 0
	for _, desc := range slices.Backward(p.written) {
		if err := p.delete(ctx, r, p.repo, "manifests", desc.Digest.String()); err != nil {
			refuse(err)
			manifestsLeft++
		}
	}
	// Some registries delete no tag by name but untag a manifest deleted
	// by digest (the CNCF registry v2.8 answers the first with 400
	// DIGEST_INVALID): such a tag is left only if it still resolves.
	tagsLeft := 0
	for _, tag := range p.tags {
		if err, ok := tagRefusals[tag]; ok {
			if _, rerr := r.Resolve(ctx, tag); !isNotFound(rerr) {
				refuse(err)
				tagsLeft++
			}
		}
	}
	blobsLeft := 0
	for _, repo := range p.blobsIn {
		from := r
		if repo != p.repo {
			var err error
			if from, err = p.client.Repository(p.host + "/" + repo); err != nil {
				blobsLeft++
				continue
			}
			ctx = auth.AppendRepositoryScope(ctx, from.Reference, auth.ActionPull, auth.ActionDelete)
		}
		if p.delete(ctx, from, repo, "blobs", p.blob.Digest.String()) != nil {
			blobsLeft++
		}
	}
	blobs := ""
	if blobsLeft > 0 {
		blobs = fmt.Sprintf("; %d probe blob(s) left for garbage collection", blobsLeft)
	}
	if len(refused) > 0 {
		p.add(CheckCleanup, CheckWarn, "the registry refused to delete (%s): %d probe manifest(s) and %d tag(s) left in %s; delete them by hand or leave them to garbage collection%s",
			strings.Join(refused, "; "), manifestsLeft, tagsLeft, p.repo, blobs)
		return
	}
	p.add(CheckCleanup, CheckPass, "removed the %d probe manifests and %d tag(s) from %s%s", len(p.written), len(p.tags), p.repo, blobs)
}

// delete sends DELETE /v2/<repo>/<kind>/<ref>; a reference that is already
// gone (404) counts as deleted.
func (p *probe) delete(ctx context.Context, r *oremote.Repository, repo, kind, ref string) error {
	url := fmt.Sprintf("%s://%s/v2/%s/%s/%s", p.scheme(), p.host, repo, kind, ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return err
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return err
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNoContent, http.StatusNotFound:
		return nil
	}
	return fmt.Errorf("%s", resp.Status)
}
