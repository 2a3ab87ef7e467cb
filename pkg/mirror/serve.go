package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// DefaultServeAddr is where serve listens when ServeOptions.Addr is empty:
// loopback only, so exposing a bundle to the network is a decision.
const DefaultServeAddr = "127.0.0.1:5000"

// ServeOptions say what bundle to serve, under which names, and where.
// Zero values are documented per field.
type ServeOptions struct {
	// Path is a bundle directory, a plain (uncompressed) bundle tar, or the
	// volume list of one split onto media (FILE.tar.volumes.json).
	// Required.
	Path string
	// Trust says whose signatures are accepted. Required: the zero value
	// trusts nobody, and OpenServed refuses it (errdef.ErrUsage); a bundle
	// whose signature does not verify is never served.
	Trust TrustOptions
	// RepoPrefix is put before every image's repository, as import does
	// (ImageName); "" serves images under their own paths.
	RepoPrefix string
	// BundleRepo is where the bundle itself (root index, metadata manifest,
	// signature referrer, and every image below the root) is served, tagged
	// with the release version; "" means bundle.DefaultBundleRepository.
	BundleRepo string
	// AllowExpired serves a bundle past its expiresAt, as import's
	// AllowExpired imports one.
	AllowExpired bool
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
	Generation       int64         `json:"mirrorGeneration"`
	Root             digest.Digest `json:"root"`
	BundleRepository string        `json:"bundleRepository"`
	// Signature says who signed the bundle.
	Signature *SignatureResult `json:"signature"`
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
	addr := opts.Addr
	if addr == "" {
		addr = DefaultServeAddr
	}
	// Before the bundle is opened, whose every blob is hashed first
	// (minutes for some GiB): an address without its port would otherwise
	// be found out only then.
	if err := checkServeAddr(addr); err != nil {
		return err
	}
	b, err := OpenServed(ctx, opts)
	if err != nil {
		return err
	}
	defer b.Close()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, listenNetwork(addr), addr)
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

// checkServeAddr refuses an --addr that is not HOST:PORT ([HOST]:PORT for
// an IPv6 address; HOST empty for every address), naming it.
func checkServeAddr(addr string) error {
	// Credentials before the host (a registry's address pasted with
	// them) are named blanked: net's own error would echo them too.
	if shown, ok := hostWithoutCredentials(addr); ok {
		return fmt.Errorf("--addr %q: want HOST:PORT, such as 127.0.0.1:5000, no credentials (serve takes none): %w", shown, errdef.ErrUsage)
	}
	host, port, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
	case strings.HasPrefix(host, "-"):
		err = errors.New("a flag taken as its value")
	default:
		if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT, such as 127.0.0.1:5000, 0.0.0.0:5000 or [::1]:5000 (port 0 picks a free one): %v: %w", addr, err, errdef.ErrUsage)
	}
	return nil
}

// listenNetwork is the network serve listens on at addr: an IPv4 address
// (0.0.0.0 too) on IPv4 alone and an IPv6 one on IPv6 alone, where Go's
// "tcp" takes an unspecified address for both (a dual-stack socket), so
// --addr 0.0.0.0:5000 was reachable over IPv6 and printed as [::]:5000;
// a name, or no host (:5000, every address), as "tcp".
func listenNetwork(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	switch {
	case err != nil || ip == nil:
		return "tcp"
	case ip.To4() != nil:
		return "tcp4"
	}
	return "tcp6"
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
// import does before anything of it is served: the signature first, over
// the raw files (verifyBundleSignature, the one check import and verify
// make), then the structure (root against manifest.json, metadata
// manifest), the expiry, every manifest against its digest, every blob
// present with its size, and then every blob's SHA-256. Content is placed
// in repositories by the placement import uses.
//
// Hashing every blob costs one read of the bundle at startup. It is done
// because serving is fail-closed: a registry must not hand out a layer it
// has not checked, and a client that pulls by tag trusts the registry's
// manifests. After this check blobs are read from the media at each
// request; the media must not change while it is served. A tar written to
// in place since it was opened (its size or modification time changed) is
// noticed, and its blobs no longer served (see tarStore.OpenBlob); a bundle
// directory replaced under its name (create --force) is not read, since
// its directories are held open (its blobs are then not found); a blob
// file of a directory, or a volume, altered in place is not noticed
// (clients verify every digest they pull all the same).
func OpenServed(ctx context.Context, opts ServeOptions) (*ServedBundle, error) {
	log := logger(opts.Logger)
	if opts.Path == "" {
		return nil, fmt.Errorf("serve: no bundle given: %w", errdef.ErrUsage)
	}
	if opts.Trust.Empty() {
		return nil, fmt.Errorf("serve: no trusted key or root (--key or --trust-root), and an unverified bundle is never served: %w", errdef.ErrUsage)
	}
	if err := opts.Trust.refuseCarried(opts.Path); err != nil {
		return nil, err
	}
	if err := checkRepoPrefix(opts.RepoPrefix); err != nil {
		return nil, err
	}
	bundleRepo := firstNonEmpty(opts.BundleRepo, bundle.DefaultBundleRepository)
	if !bundle.ValidRepository(bundleRepo) {
		return nil, fmt.Errorf("--bundle-repo %q is not a valid repository name: %w", withoutAt(bundleRepo), errdef.ErrUsage)
	}
	store, err := openServedStore(opts.Path)
	if err != nil {
		return nil, err
	}
	b, err := openServed(ctx, store, opts, bundleRepo, log)
	if err != nil {
		store.Close()
		return nil, inBundle(opts.Path, err)
	}
	return b, nil
}

func openServed(ctx context.Context, store servedStore, opts ServeOptions, bundleRepo string, log *slog.Logger) (*ServedBundle, error) {
	// The signature first, over the raw bytes: nothing the bundle says is
	// parsed further, let alone served, unless it verifies.
	file := headFileOf(store.ReadFile)
	sig, err := verifyBundleSignature(ctx, file, opts.Trust)
	if err != nil {
		return nil, err
	}
	md, err := readMetadata(ctx, file, store.FetchBytes)
	if err != nil {
		return nil, err
	}
	if err := md.checkStructure(ctx); err != nil {
		return nil, err
	}
	if _, err := md.checkIndex(ctx, false); err != nil {
		return nil, err
	}
	m := md.Manifest
	if err := checkExpiry(m, opts.Now, opts.AllowExpired, "serve"); err != nil {
		return nil, err
	}
	if m.Base != nil {
		return nil, fmt.Errorf("bundle %s is a delta on %s and lacks its blobs; serve needs a full bundle: %w", m.BundleID, m.Base.BundleID, errdef.ErrUsage)
	}
	plan, err := planPlacement(ctx, md, placementOptions{bundleRepo: bundleRepo, mapImages: true, prefix: opts.RepoPrefix})
	if err != nil {
		return nil, err
	}
	if err := checkNoStrayEntries(ctx, "", store, plan, m); err != nil { // Serve names opts.Path
		return nil, err
	}
	log.Info("verifying blobs", "path", opts.Path, "blobs", len(plan.blobs))
	if err := verifyBlobs(ctx, store, plan.blobs, concurrency(opts.Concurrency)); err != nil {
		return nil, err
	}
	// Written to while it was hashed, it may hold other bytes than those
	// just verified.
	if err := store.changed(); err != nil {
		return nil, err
	}
	// Bytes after an archive's end, told at start-up as verify, import
	// and push tell them: serve took such a copy in silence.
	if t, ok := store.(*tarStore); ok {
		if err := warnTrailing(opts.Path, t.Trailing, log); err != nil {
			return nil, err
		}
	}
	content, manifests, err := servedContent(store, md, plan)
	if err != nil {
		return nil, err
	}
	info := ServeInfo{
		Path: opts.Path, BundleID: m.BundleID, Version: m.Release.Version, Generation: m.MirrorGeneration,
		Root: md.RootDesc.Digest, BundleRepository: bundleRepo, Signature: sig,
		Blobs: len(manifests) + len(plan.blobs),
	}
	for _, d := range manifests {
		info.Bytes += d.Size
	}
	for _, b := range plan.blobs {
		info.Bytes += b.desc.Size
	}
	for _, b := range plan.memBlobs {
		info.Blobs++
		info.Bytes += b.desc.Size
	}
	for _, name := range content.Repositories() {
		tags, _ := content.Tags(name)
		info.Repositories = append(info.Repositories, ServedRepository{Name: name, Tags: tags})
	}
	log.Info("bundle verified", "path", opts.Path, "root", info.Root, "blobs", info.Blobs, "bytes", info.Bytes)
	return &ServedBundle{Content: content, Info: info, store: store}, nil
}
