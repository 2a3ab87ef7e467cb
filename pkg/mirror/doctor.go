package mirror

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// DefaultDoctorRepository is the repository Doctor writes its probes into
// when DoctorOptions.Repository is empty.
const DefaultDoctorRepository = "stellaops/mirror-doctor"

// DoctorOptions say which registry to diagnose. Zero values are documented
// per field.
type DoctorOptions struct {
	// Registry is the registry, host[:port]. Required.
	Registry string
	// Repository is where the probes are written (a blob, a few small
	// manifests, one sha256-<hex> tag) and removed again; empty means
	// DefaultDoctorRepository. Probes for mounts also use Repository+"/mount".
	Repository string
	// MaxManifestSize is the largest manifest the size probe tries; zero
	// means bundle.MaxManifestSize, the bound every stella command applies.
	MaxManifestSize int64
	// Client reaches the registry, with the same credentials, TLS settings
	// and retries as import and push. Required.
	Client *remote.Client
	// Logger receives each check as it completes; nil discards them.
	Logger *slog.Logger
}

// CheckStatus is the outcome of one doctor check.
type CheckStatus string

// Check outcomes. Only CheckFail makes a registry unusable.
const (
	CheckPass CheckStatus = "pass"
	CheckInfo CheckStatus = "info"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "fail"
	CheckSkip CheckStatus = "skip"
)

// Names of the doctor's checks, in the order they run.
const (
	CheckReachable    = "reachable"
	CheckTLS          = "tls"
	CheckClientCert   = "client-cert"
	CheckAuth         = "auth"
	CheckPush         = "push"
	CheckChunked      = "chunked-upload"
	CheckArtifactType = "artifact-type"
	CheckReferrersAPI = "referrers-api"
	CheckOCISubject   = "oci-subject"
	CheckFallbackTag  = "fallback-tag"
	CheckManifestSize = "manifest-size"
	CheckBlobMount    = "blob-mount"
	CheckCleanup      = "cleanup"
)

// DoctorCheck is one finding about the registry.
type DoctorCheck struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
}

// DoctorMode is how import and push will write into the registry.
type DoctorMode struct {
	// Referrers is how signatures and other referrers are attached.
	Referrers ReferrersMode `json:"referrers,omitempty"`
	// Mounts reports whether blobs shared between repositories are
	// mounted (linked by the registry) rather than uploaded again.
	Mounts bool `json:"mounts"`
	// Uploads is how blobs larger than one request are sent:
	// UploadsChunked, "chunked, at least N bytes a chunk" where the
	// registry sets a smallest chunk (OCI-Chunk-Min-Length), or
	// UploadsWhole where it refuses chunks; empty when not probed.
	Uploads string `json:"uploads,omitempty"`
}

// DoctorMode.Uploads values, beside the chunked one with a minimum.
const (
	UploadsChunked = "chunked"
	UploadsWhole   = "one request a blob"
)

// DoctorResult is what Doctor found.
type DoctorResult struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	// Usable reports whether import and push can work here: no check
	// failed.
	Usable bool          `json:"usable"`
	Checks []DoctorCheck `json:"checks"`
	// Mode is set once the registry took the probes.
	Mode *DoctorMode `json:"mode,omitempty"`
	// MaxManifestSize is the largest manifest the registry accepted, up to
	// the probe's bound; zero when not probed.
	MaxManifestSize int64 `json:"maxManifestSize"`
}

// Check returns the named check, or nil.
func (r *DoctorResult) Check(name string) *DoctorCheck {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// Doctor diagnoses a registry with real requests, the way import and push
// will talk to it: reachability and TLS (GET /v2/), the authentication it
// asks for and whether the credentials are accepted, then, in a probe
// repository, a blob and manifest push, whether blobs go in chunks (an
// upload session opened, one small PATCH, the session cancelled), an OCI
// artifact manifest with a subject (is OCI-Subject sent back?), the
// referrers API, a sha256-<hex> fallback tag, the largest manifest accepted (up to 4 MiB) and a
// cross-repository blob mount. It removes what it wrote where the registry
// allows deletes, and says which mode import and push will use.
//
// The result is returned whenever the options are valid, also when the
// registry is not usable; the error then wraps errdef.ErrUnavailable and
// names the first failed check.
func Doctor(ctx context.Context, opts DoctorOptions) (*DoctorResult, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("doctor: no registry client: %w", errdef.ErrUsage)
	}
	host := opts.Registry
	if err := checkRegistryHost("--registry", host); err != nil {
		return nil, err
	}
	repo := firstNonEmpty(opts.Repository, DefaultDoctorRepository)
	if !bundle.ValidRepository(repo) {
		return nil, fmt.Errorf("--repo %q is not a valid repository name: %w", withoutAt(repo), errdef.ErrUsage)
	}
	limit := opts.MaxManifestSize
	if limit <= 0 || limit > bundle.MaxManifestSize {
		limit = bundle.MaxManifestSize
	}
	res := &DoctorResult{Registry: host, Repository: repo}
	p := &probe{client: opts.Client, host: host, repo: repo, limit: limit, res: res, log: logger(opts.Logger)}
	p.run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Usable = true
	for _, c := range res.Checks {
		if c.Status == CheckFail {
			res.Usable = false
			return res, fmt.Errorf("registry %s is not usable: %s: %s: %w", host, c.Name, c.Detail, errdef.ErrUnavailable)
		}
	}
	return res, nil
}
