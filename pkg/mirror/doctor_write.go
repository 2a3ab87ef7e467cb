package mirror

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Doctor's probe content: an artifact type of its own, and annotations that
// make every probe manifest unique to one run, so that nothing it writes or
// deletes can be anyone else's content.
const (
	doctorArtifactType = "application/vnd.stellaops.mirror.doctor.v1+json"
	annotationNonce    = "org.stellaops.mirror.doctor.run"
	annotationPadding  = "org.stellaops.mirror.doctor.padding"
	// sizeStep is the precision of the manifest size search: about six
	// PUTs between the smallest manifest and 4 MiB.
	sizeStep = 64 << 10
)

// emptyJSON is the OCI empty descriptor ({}), without its inline data.
var emptyJSON = ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: ocispec.DescriptorEmptyJSON.Digest, Size: 2}

// write runs the checks that write into the probe repository, then
// removes what they wrote.
func (p *probe) write(ctx context.Context) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p.nonce = hex.EncodeToString(b[:])
	p.tgt = newTarget(p.host, p.client, transfer.Options{Attempts: 2})
	r, err := p.tgt.repo(p.repo)
	if err != nil {
		p.add(CheckPush, CheckFail, "%v", err)
		return
	}
	ctx = auth.AppendRepositoryScope(ctx, r.Reference, auth.ActionPull, auth.ActionPush)
	defer p.cleanup(ctx, r)
	if !p.push(ctx, r) {
		return
	}
	uploads := p.chunks(ctx)
	if !p.artifact(ctx, r) {
		return
	}
	mode := p.referrers(ctx, r)
	p.fallbackTag(ctx, r, mode)
	p.manifestSize(ctx)
	mounts := p.mount(ctx)
	p.res.Mode = &DoctorMode{Referrers: mode, Mounts: mounts, Uploads: uploads}
}

// push writes the empty config, a blob unique to this run (both through
// the uploader that import uses; blobs this small go in one POST and PUT)
// and a manifest naming them.
func (p *probe) push(ctx context.Context, r *oremote.Repository) bool {
	data := []byte("stella mirror doctor probe " + p.nonce + "\n")
	p.blob = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	err := p.tgt.putBytes(ctx, p.repo, emptyJSON, []byte("{}"))
	if err == nil {
		err = p.tgt.upload(ctx, p.repo, p.blob, bytes.NewReader(data))
	}
	if err != nil {
		p.add(CheckPush, CheckFail, "blob upload into %s: %v", p.repo, remote.Classify(err))
		return false
	}
	p.blobsIn = append(p.blobsIn, p.repo)
	cfg := emptyJSON
	cfg.MediaType = ocispec.MediaTypeImageConfig
	p.base, _, err = p.putManifest(ctx, r, "", ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfg, Layers: []ocispec.Descriptor{p.blob},
		Annotations: map[string]string{annotationNonce: p.nonce},
	})
	if err != nil {
		p.add(CheckPush, CheckFail, "manifest push into %s: %v", p.repo, err)
		return false
	}
	p.add(CheckPush, CheckPass, "wrote two small blobs (one PUT each, as import sends blobs that fit one request) and an image manifest into %s", p.repo)
	return true
}

// artifact pushes an OCI 1.1 artifact manifest whose subject is the base,
// the shape of a bundle's signature, and notes the OCI-Subject answer.
func (p *probe) artifact(ctx context.Context, r *oremote.Repository) bool {
	base := p.base
	desc, resp, err := p.putManifest(ctx, r, "", ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: doctorArtifactType, Config: emptyJSON, Layers: []ocispec.Descriptor{emptyJSON},
		Subject: &base, Annotations: map[string]string{annotationNonce: p.nonce},
	})
	if err != nil {
		p.add(CheckArtifactType, CheckFail, "refused an OCI artifact manifest (artifactType, empty config, subject): %v; "+
			"a bundle's root, metadata and signature are such manifests, so bundles cannot be placed here", err)
		return false
	}
	desc.ArtifactType = doctorArtifactType
	p.referrer, p.subject = desc, resp.Header.Get("OCI-Subject")
	p.add(CheckArtifactType, CheckPass, "accepts OCI 1.1 artifact manifests (artifactType, empty config, subject)")
	return true
}

// referrers asks, with the very code import and push use, whether the
// registry serves the referrers API, and reports OCI-Subject against it.
func (p *probe) referrers(ctx context.Context, r *oremote.Repository) ReferrersMode {
	path := fmt.Sprintf("GET /v2/%s/referrers/%s", p.repo, p.base.Digest)
	mode, err := p.tgt.detectReferrers(ctx, p.repo, p.base.Digest)
	switch {
	case errors.Is(err, errdef.ErrMalformed):
		// An answer the listing cannot read: import, push and pull list
		// referrers so too and fail.
		p.add(CheckReferrersAPI, CheckFail, "%s: %v; import, push and pull fail the same way", path, err)
		mode = ReferrersTagIndex
	case err != nil:
		p.add(CheckReferrersAPI, CheckWarn, "%s: %v; import and push will fail the same way", path, err)
		mode = ReferrersTagIndex
	case mode == ReferrersAPI:
		listed := false
		lerr := r.Referrers(ctx, p.base, "", func(refs []ocispec.Descriptor) error {
			for _, d := range refs {
				listed = listed || d.Digest == p.referrer.Digest
			}
			return nil
		})
		switch lerr = remote.Classify(lerr); {
		case errors.Is(lerr, errdef.ErrMalformed):
			// Pages without end, a next page on another host, a page
			// not JSON: import, push and pull list referrers so too.
			p.add(CheckReferrersAPI, CheckFail, "%s serves an image index, but listing the referrers fails: %v; import, push and pull fail the same way", path, lerr)
		case lerr != nil:
			p.add(CheckReferrersAPI, CheckWarn, "%s serves an image index, but listing the referrers failed: %v", path, lerr)
		case !listed:
			p.add(CheckReferrersAPI, CheckWarn, "%s serves an image index, but it does not list the referrer just pushed", path)
		default:
			p.add(CheckReferrersAPI, CheckPass, "%s serves an image index listing the referrer just pushed", path)
		}
	case p.subject == p.base.Digest.String():
		// OCI-Subject is sent only by a registry that serves the API:
		// a proxy in front of it answers the API not found. Signatures
		// pushed through the API are then found by no reader, and the
		// rollback check passes over every bundle so signed as unsigned.
		p.add(CheckReferrersAPI, CheckFail, "%s gave no image index, yet the registry answered the push of a manifest with a subject with OCI-Subject, which only a registry serving the referrers API sends: a proxy in front of it blocks the API, so bundles signed through it read as unsigned and import's rollback check passes them over; let the proxy pass /v2/<name>/referrers/", path)
	default:
		p.add(CheckReferrersAPI, CheckWarn, "not supported (%s gave no image index): referrers are attached under sha256-<hex> tags instead", path)
	}
	switch {
	case p.subject == p.base.Digest.String():
		p.add(CheckOCISubject, CheckPass, "sent (OCI-Subject: %s) on the push of a manifest with a subject", p.subject)
	case p.subject != "":
		p.add(CheckOCISubject, CheckWarn, "OCI-Subject %q does not name the subject %s", p.subject, p.base.Digest)
	case mode == ReferrersAPI:
		p.add(CheckOCISubject, CheckWarn, "not sent, although the referrers API is served (stella detects the API by querying it)")
	default:
		p.add(CheckOCISubject, CheckInfo, "not sent, as expected without the referrers API")
	}
	return mode
}

// fallbackTag writes the sha256-<hex> tag of the base: an image index of
// its referrers, as import and push do on registries without the API.
func (p *probe) fallbackTag(ctx context.Context, r *oremote.Repository, mode ReferrersMode) {
	tag := "sha256-" + p.base.Digest.Encoded()
	_, _, err := p.putManifest(ctx, r, tag, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{p.referrer},
	})
	switch {
	case err == nil:
		p.add(CheckFallbackTag, CheckPass, "wrote tag %s…, an image index of referrers", tag[:19])
	case mode == ReferrersAPI:
		p.add(CheckFallbackTag, CheckWarn, "refused (%v); not needed, since the registry serves the referrers API", err)
	default:
		p.add(CheckFallbackTag, CheckFail, "refused (%v), and the referrers API is not served: signatures cannot be attached here", err)
	}
}

// manifestSize finds the largest manifest the registry accepts, up to the
// limit: the limit itself first, then a bisection to within sizeStep. The
// requests are not retried: a refusal is the answer sought.
func (p *probe) manifestSize(ctx context.Context) {
	r, err := p.client.UploadRepository(p.host + "/" + p.repo)
	if err != nil {
		p.add(CheckManifestSize, CheckWarn, "%v", err)
		return
	}
	try := func(n int64) error {
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: doctorArtifactType, Config: emptyJSON, Layers: []ocispec.Descriptor{emptyJSON},
			Annotations: map[string]string{annotationNonce: p.nonce, annotationPadding: ""},
		}
		skeleton, _ := json.Marshal(m)
		m.Annotations[annotationPadding] = strings.Repeat("0", int(max(n-int64(len(skeleton)), 0)))
		_, _, err := p.putManifest(ctx, r, "", m)
		return err
	}
	if err := try(p.limit); err == nil {
		p.res.MaxManifestSize = p.limit
		p.add(CheckManifestSize, CheckPass, "accepts a %s manifest, stella's bound for every manifest", humanSize(p.limit))
		return
	}
	lo, hi := p.referrer.Size, p.limit
	var refusal error
	for hi-lo > sizeStep && ctx.Err() == nil {
		mid := lo + (hi-lo)/2
		if err := try(mid); err != nil {
			hi, refusal = mid, err
		} else {
			lo = mid
		}
	}
	if refusal == nil {
		refusal = try(hi)
	}
	p.res.MaxManifestSize = lo
	p.add(CheckManifestSize, CheckWarn, "the largest manifest accepted is about %s (%s refused: %v); a bundle with a larger index, image manifest or manifest.json cannot be placed here",
		humanSize(lo), humanSize(hi), refusal)
}

// mount asks for the probe blob to be mounted into a second repository,
// as import does for blobs that several images share.
func (p *probe) mount(ctx context.Context) bool {
	into := p.repo + "/mount"
	u, err := p.tgt.uploader(into)
	var mounted bool
	if err == nil {
		mounted, err = u.Mount(ctx, p.blob, p.repo)
	}
	switch {
	case err != nil:
		p.add(CheckBlobMount, CheckWarn, "POST /v2/%s/blobs/uploads/?mount=…&from=%s: %v; shared blobs will be uploaded into each repository", into, p.repo, err)
	case mounted:
		p.blobsIn = append(p.blobsIn, into)
		p.add(CheckBlobMount, CheckPass, "cross-repository mount answered 201 Created: blobs that repositories share are linked, not sent again")
	default:
		p.add(CheckBlobMount, CheckWarn, "cross-repository mount answered 202 (an upload) instead of 201: blobs that repositories share are sent into each")
	}
	return err == nil && mounted
}

// putManifest PUTs a manifest or index (m) by digest, or under tag, and
// returns its descriptor and the registry's answer. It speaks HTTP itself,
// through the repository's authenticating client, because the answer's
// headers (OCI-Subject) are part of what is being diagnosed.
func (p *probe) putManifest(ctx context.Context, r *oremote.Repository, tag string, m any) (ocispec.Descriptor, *http.Response, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	var head struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(data, &head)
	desc := ocispec.Descriptor{MediaType: head.MediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	ref := tag
	if ref == "" {
		ref = desc.Digest.String()
	}
	url := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", p.scheme(), p.host, p.repo, ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return desc, nil, err
	}
	req.Header.Set("Content-Type", desc.MediaType)
	resp, err := r.Client.Do(req)
	if err != nil {
		// No answer (an interruption, a dropped connection): the
		// registry may have taken it, so cleanup deletes it too.
		p.wrote(tag, desc)
		return desc, nil, remote.Classify(err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusCreated {
		return desc, resp, remote.Classify(responseError(resp))
	}
	p.wrote(tag, desc)
	return desc, resp, nil
}

// wrote records a manifest (and its tag) for cleanup.
func (p *probe) wrote(tag string, desc ocispec.Descriptor) {
	if tag != "" {
		p.tags = append(p.tags, tag)
	}
	p.written = append(p.written, desc)
}

// humanSize renders a byte count in KiB or MiB.
func humanSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// responseError reads a registry's error answer (bounded) into an error
// that remote.Classify understands.
func responseError(resp *http.Response) error {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); len(data) > 0 && json.Unmarshal(data, &body) == nil {
		e.Errors = body.Errors
	}
	return e
}
