package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// DefaultServeAddr is where serve listens when ServeOptions.Addr is empty:
// loopback only, so exposing a bundle to the network is a decision.
const DefaultServeAddr = "127.0.0.1:5000"

// SignatureVerifier checks a bundle's signature: the DSSE envelope in
// manifest.dsse over the exact bytes of manifest.json, against the keys or
// trust roots the operator trusts. file reads the bundle's head files
// (manifest.dsse, public-key.pem, certificates). It returns an error
// wrapping errdef.ErrSignature when the signature is missing, malformed or
// not made by a trusted key.
type SignatureVerifier func(ctx context.Context, manifestJSON []byte, file func(name string) ([]byte, error)) error

// ServeOptions say what bundle to serve, under which names, and where.
// Zero values are documented per field.
type ServeOptions struct {
	// Path is a bundle directory or a plain (uncompressed) bundle tar.
	// Required.
	Path string
	// RepoPrefix is put in front of every image's repository, as import
	// does (bundle.MapRepository); "" serves them under their own names.
	RepoPrefix string
	// BundleRepository is where the bundle itself (root index, metadata
	// manifest, signature referrer) is served, tagged with the release
	// version; "" means bundle.DefaultBundleRepository.
	BundleRepository string
	// VerifySignature checks the bundle's signature before anything else is
	// trusted. Required: without it OpenServed refuses (errdef.ErrSignature),
	// so there is no way to serve a bundle whose signature was not checked.
	VerifySignature SignatureVerifier
	// Now is the time the bundle's expiry is checked against; zero means the
	// clock.
	Now time.Time
	// Concurrency is how many blobs are hashed at once before serving; 0
	// means transfer.DefaultConcurrency.
	Concurrency int
	// Logger receives progress and one info record per request; nil
	// discards them.
	Logger *slog.Logger

	// Addr is the host:port Serve listens on; "" means DefaultServeAddr.
	// Port 0 picks a free port, which Ready reports.
	Addr string
	// TLSCertFile and TLSKeyFile, both set, make Serve speak HTTPS.
	TLSCertFile, TLSKeyFile string
	// Ready, if set, is called once, when the bundle is verified and Serve
	// listens: with what it serves and where.
	Ready func(ServeInfo)
}

// ServeInfo describes a served bundle.
type ServeInfo struct {
	// Address is the host:port the registry listens on (Serve only), and
	// URL its base URL.
	Address string `json:"address,omitempty"`
	URL     string `json:"url,omitempty"`

	Path             string        `json:"path"`
	BundleID         string        `json:"bundleId"`
	Version          string        `json:"version"`
	Root             digest.Digest `json:"root"`
	BundleRepository string        `json:"bundleRepository"`
	// Repositories are every repository served, with its tags.
	Repositories []ServedRepository `json:"repositories"`
	// Blobs and Bytes count the unique blobs (manifests included) that were
	// verified and are served.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// ServedRepository is one repository of a served bundle.
type ServedRepository struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// Serve verifies the bundle (OpenServed), listens on opts.Addr, reports
// through opts.Ready and answers pulls until ctx ends; then it shuts down
// cleanly and returns nil.
func Serve(ctx context.Context, opts ServeOptions) error {
	log := logger(opts.Logger)
	tlsOpts := serve.ServerOptions{TLSCertFile: opts.TLSCertFile, TLSKeyFile: opts.TLSKeyFile, Logger: log}
	if err := tlsOpts.Check(); err != nil {
		return err
	}
	b, err := OpenServed(ctx, opts)
	if err != nil {
		return err
	}
	defer b.Close()
	addr := opts.Addr
	if addr == "" {
		addr = DefaultServeAddr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %v: %w", addr, err, errdef.ErrUsage)
	}
	info := b.Info
	info.Address = ln.Addr().String()
	scheme := "http"
	if opts.TLSCertFile != "" {
		scheme = "https"
	}
	info.URL = scheme + "://" + info.Address
	log.Info("serving bundle", "url", info.URL, "root", info.Root, "repositories", len(info.Repositories))
	if opts.Ready != nil {
		opts.Ready(info)
	}
	h := serve.NewHandler(b.Content, serve.Options{Logger: log})
	return serve.Serve(ctx, ln, h, tlsOpts)
}

// ServedBundle is a bundle that verified, ready to be served: hand Content
// to serve.NewHandler. Close it when done.
type ServedBundle struct {
	Content *serve.Content
	Info    ServeInfo
	store   servedStore
}

// Close releases the bundle's files.
func (b *ServedBundle) Close() error { return b.store.Close() }

// OpenServed opens a bundle directory or plain tar and verifies it as
// import does before anything of it is served: the signature first
// (opts.VerifySignature), then the structure (root against manifest.json,
// metadata manifest), the expiry, every manifest against its digest, every
// blob present with its size, and then every blob's SHA-256.
//
// Hashing every blob costs one read of the bundle at startup. It is done
// because serving is fail-closed: a registry must not hand out a layer it
// has not checked, and a client that pulls by tag trusts the registry's
// manifests. After this check blobs are read from the media at each
// request; the media must not change while it is served (clients verify
// every digest they pull all the same).
func OpenServed(ctx context.Context, opts ServeOptions) (*ServedBundle, error) {
	log := logger(opts.Logger)
	if opts.Path == "" {
		return nil, fmt.Errorf("serve: no bundle given: %w", errdef.ErrUsage)
	}
	store, err := openServedStore(opts.Path)
	if err != nil {
		return nil, err
	}
	b, err := openServed(ctx, store, opts, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	return b, nil
}

func openServed(ctx context.Context, store servedStore, opts ServeOptions, log *slog.Logger) (*ServedBundle, error) {
	md, err := readMetadata(ctx, store.ReadFile, store.FetchBytes)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			err = fmt.Errorf("%w (%w)", err, errdef.ErrMalformed)
		}
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	// The signature is checked before anything else of the bundle is used.
	if err := verifyServedSignature(ctx, md, opts.VerifySignature); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	if err := md.checkStructure(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	m := md.Manifest
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.After(m.ExpiresAt) {
		return nil, fmt.Errorf("%s: bundle %s expired at %s: %w", opts.Path, m.BundleID, m.ExpiresAt.Format(time.RFC3339), errdef.ErrExpired)
	}
	if m.Base != nil {
		return nil, fmt.Errorf("%s: bundle %s is a delta on %s and lacks its blobs; serve needs a full bundle: %w", opts.Path, m.BundleID, m.Base.BundleID, errdef.ErrUsage)
	}
	graph, signatures, err := servedGraph(ctx, store, md)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	log.Info("verifying blobs", "path", opts.Path, "blobs", len(graph.Blobs))
	if err := verifyBlobs(ctx, store, graph.Blobs, concurrency(opts.Concurrency)); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	bundleRepo := firstNonEmpty(opts.BundleRepository, bundle.DefaultBundleRepository)
	content, err := servedContent(store, md, graph, signatures, bundleRepo, opts.RepoPrefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	info := ServeInfo{
		Path: opts.Path, BundleID: m.BundleID, Version: m.Release.Version, Root: md.RootDesc.Digest,
		BundleRepository: bundleRepo, Blobs: len(graph.Nodes) + len(graph.Blobs),
	}
	for _, n := range graph.Nodes {
		info.Bytes += n.Descriptor.Size
	}
	for _, d := range graph.Blobs {
		info.Bytes += d.Size
	}
	for _, name := range content.Repositories() {
		tags, _ := content.Tags(name)
		info.Repositories = append(info.Repositories, ServedRepository{Name: name, Tags: tags})
	}
	log.Info("bundle verified", "path", opts.Path, "root", info.Root, "blobs", info.Blobs, "bytes", info.Bytes)
	return &ServedBundle{Content: content, Info: info, store: store}, nil
}

// verifyServedSignature is where serve checks the bundle's signature. It is
// the one call between reading the bundle's metadata and trusting any of
// it, and it cannot be skipped: without a verifier it refuses.
//
// Integration point for signing (issue 3): opts.VerifySignature is built by
// the CLI from --key/--trust-root/--threshold; the real check (the method on
// *metadata that verifies manifest.dsse against TrustOptions) goes here.
func verifyServedSignature(ctx context.Context, md *metadata, verify SignatureVerifier) error {
	if verify == nil {
		return fmt.Errorf("no signature verification is configured, and an unverified bundle is never served: %w", errdef.ErrSignature)
	}
	if err := verify(ctx, md.ManifestBytes, md.File); err != nil {
		if !errors.Is(err, errdef.ErrSignature) {
			err = fmt.Errorf("%w: %w", errdef.ErrSignature, err)
		}
		return err
	}
	return nil
}
