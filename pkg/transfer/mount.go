package transfer

import (
	"context"
	"net/http"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/stellaops/mirror/pkg/remote"
)

// Mount asks the registry to link the blob desc from another repository of
// the same registry, without sending it. It reports false (and cancels the
// session) when the registry would rather have the content uploaded, or
// refuses the mount (refusesMount).
func (u *Uploader) Mount(ctx context.Context, desc ocispec.Descriptor, fromRepo string) (bool, error) {
	ctx = auth.AppendRepositoryScope(ctx, u.Repo.Reference, auth.ActionPull, auth.ActionPush)
	from := u.Repo.Reference
	from.Repository = fromRepo
	ctx = auth.AppendRepositoryScope(ctx, from, auth.ActionPull)
	q := url.Values{"mount": {desc.Digest.String()}, "from": {fromRepo}}
	target := u.baseURL() + "/blobs/uploads/?" + q.Encode()
	mounted := false
	err := u.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
		if err != nil {
			return false, err
		}
		resp, err := u.Repo.Client.Do(req)
		if err != nil {
			return remote.IsTransient(err), err // as start's POST
		}
		defer drain(resp)
		switch resp.StatusCode {
		case http.StatusCreated:
			if err := stored(resp, desc.Digest); err != nil {
				return false, err
			}
			mounted = true
			return false, nil
		case http.StatusAccepted:
			if loc, err := u.location(resp, req.URL); err == nil {
				u.cancel(loc)
			}
			return false, nil
		}
		if refusesMount(resp) {
			return false, nil
		}
		return refusal(resp)
	})
	return mounted, err
}

// refusesMount reports whether a mount's answer is a registry declining to
// mount, which an upload of the content mends: a token that grants no pull
// on the source repository (Harbor, Quay, GHCR answer 401 or 403, where
// Docker Hub starts an upload), a source it does not find (404), no mounts
// at all (405, 400). A mount only saves sending the blob; should the
// destination itself refuse, the upload that follows says so.
func refusesMount(resp *http.Response) bool {
	return resp.StatusCode >= 400 && resp.StatusCode < 500 && !retryable(resp)
}
