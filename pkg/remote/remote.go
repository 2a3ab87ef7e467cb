// Package remote connects to OCI registries the way every command does:
// docker config.json credentials and credential helpers, TLS verified by
// default (extra CA file, or --insecure on request), plain HTTP only when
// asked, and retries with backoff for transient faults (5xx, 429 with
// Retry-After, connection resets).
package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Options say how to reach registries. The zero value verifies TLS against
// the system roots, uses HTTPS, and reads credentials from the docker
// config.json that docker itself would use ($DOCKER_CONFIG or ~/.docker).
type Options struct {
	// PlainHTTP talks HTTP instead of HTTPS. Only when asked.
	PlainHTTP bool
	// PlainHTTPHosts are registries (HOST[:PORT], as references name
	// them; the port is part of the name, and letter case is not) talked
	// to in plain HTTP while the others get HTTPS, their certificates
	// verified: --plain-http-host, one side of a sync without TLS. Their
	// credentials are sent to them in plain HTTP; no other host's are.
	// Empty means none but as PlainHTTP says.
	PlainHTTPHosts []string
	// Insecure skips TLS certificate verification. Only when asked.
	Insecure bool
	// CAFile is a PEM bundle of extra roots to trust, beside the system's.
	CAFile string
	// CertFile and KeyFile are a client certificate (PEM, leaf first, its
	// chain after it) and its unencrypted private key (PEM: PKCS#8, PKCS#1
	// or SEC1), for registries that demand one (mutual TLS). Both or
	// neither. The certificate is presented to every registry that asks
	// for one issued by a CA of its chain, or names no CA, and to no
	// other.
	CertFile, KeyFile string
	// CertsDir is a directory laid out as docker's and containers'
	// certs.d: for a registry host[:port], CertsDir/host[:port]/ holds CAs
	// trusted for it (*.crt, beside the system's and CAFile's) and a
	// client certificate NAME.cert with its key NAME.key, presented to it
	// instead of CertFile's; a host without a directory that a registry
	// sends requests to (its token service, a redirect) gets the
	// registry's. Read at the first request to each host; "" reads none
	// (no directory is read unless named).
	CertsDir string
	// ConfigFile is a docker config.json to read credentials from instead of
	// the default one.
	ConfigFile string
	// UserAgent is sent with every request.
	UserAgent string
	// Connections is how many requests a run sends to one host at once
	// (its transfers' concurrency and those beside them): as many idle
	// connections to each host are kept, at least 32, so that a wave of
	// transfers after another reuses them instead of dialling again.
	Connections int
	// Retries is how often a request that met a transient fault is tried
	// again, with exponential backoff; 0 means DefaultRetries, negative
	// means never.
	Retries int
	// IdleTimeout drops a request whose bytes stop moving for this long
	// (an answer that sends nothing, an upload the registry stops
	// reading), which is then retried; 0 means DefaultIdleTimeout,
	// negative means never.
	IdleTimeout time.Duration
}

// DefaultRetries is Options.Retries when zero: about six seconds of
// backoff before a registry is declared down.
const DefaultRetries = 5

// MaxRetries bounds the retries a user may give: each may wait up to
// MaxRetryAfter, so 100 is most of an hour on one request; more reads as
// never giving up on a registry that is down (and retries + 1, a blob's
// tries, overflowed at the largest int).
const MaxRetries = 100

// Client hands out repositories that share one transport, credential store
// and token cache.
type Client struct {
	opts  Options
	store credentials.Store
	http  *http.Client
	// plain is http without the retry layer, for callers that retry
	// themselves with more knowledge (chunked uploads).
	plain *http.Client

	// tls holds each host's TLS settings and client certificate.
	tls *tlsHosts

	mu      sync.Mutex
	clients map[clientKey]*auth.Client
	// caches holds each host's credentials and tokens, shared by its
	// retrying and non-retrying auth clients: a registry's first challenge
	// (Basic, or a token for a scope) is met once a run, not once by each.
	caches map[string]auth.Cache
	// gates hold each host's requests while its first is in flight.
	gates map[string]*challengeGate
}

type clientKey struct {
	host  string
	retry bool
}

// connBuffer is the size of each HTTP/1 connection's read and write
// buffer (see New).
const connBuffer = 1 << 10

// New builds a Client. It fails if the CA file, the client certificate
// and key, or the credential store cannot be read.
func New(opts Options) (*Client, error) {
	var cert *tls.Certificate
	if opts.CertFile != "" || opts.KeyFile != "" {
		c, err := loadClientCert(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, err
		}
		cert = &c
	}
	if opts.CertsDir != "" {
		if st, err := os.Stat(opts.CertsDir); err != nil || !st.IsDir() {
			if err == nil {
				err = errors.New("not a directory")
			}
			kind := errdef.ErrUsage
			if errors.Is(err, os.ErrNotExist) {
				kind = errdef.ErrNotFound
			}
			return nil, fmt.Errorf("--certs-dir %s: %v: %w", opts.CertsDir, unwrapPath(err), kind)
		}
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.Insecure} //nolint:gosec // only on --insecure
	if opts.CAFile != "" {
		pem, err := readPEMFile("--ca-file", opts.CAFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate found: %w", opts.CAFile, errdef.ErrUsage)
		}
		tlsConfig.RootCAs = pool
	}
	idlePerHost := max(32, opts.Connections)
	template := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(100, 2*idlePerHost),
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		// Every HTTP/1 connection keeps a read and a write buffer for
		// its life, 4 KiB each by default, and a run holds about twice
		// Connections at once (its transfers, the checks asked ahead
		// beside them, the mounts): at --concurrency 256, 540 of them,
		// 5 MiB of its 65 MiB peak RSS with the collector's slack.
		// They hold only the head of a request or answer (a longer one,
		// a bearer token, goes in two writes or reads); bodies are
		// copied in the reader's own pieces. HTTP/2 has its own.
		ReadBufferSize:  connBuffer,
		WriteBufferSize: connBuffer,
	}
	hosts := &tlsHosts{
		template: template, config: tlsConfig, cert: cert, certFile: opts.CertFile, dir: opts.CertsDir,
		hosts: map[string]*hostTLS{}, errs: map[string]error{},
	}
	// chain is what every request goes through under the retry layer.
	chain := func(first bool) http.RoundTripper {
		var rt http.RoundTripper = routed{hosts, first}
		switch {
		case opts.IdleTimeout == 0:
			rt = idleTimeout{rt, DefaultIdleTimeout}
		case opts.IdleTimeout > 0:
			rt = idleTimeout{rt, opts.IdleTimeout}
		}
		return rt
	}
	rt := chain(false)
	if !opts.PlainHTTP {
		rt = newFirstContact(chain(true), rt)
	}
	rt = echoScrub{rt}
	policy := retryPolicy(opts.Retries)
	store, err := newStore(opts)
	if errors.Is(err, errNoHome) {
		// Nothing to read credentials from: anonymous, as docker is.
		// login and logout (FreshStore) still refuse.
		store, err = credentials.NewMemoryStore(), nil
	}
	if err != nil {
		return nil, err
	}
	var checkRedirect func(*http.Request, []*http.Request) error
	if !opts.PlainHTTP {
		checkRedirect = refuseDowngrade
	}
	return &Client{
		opts:  opts,
		store: store,
		http: &http.Client{
			Transport:     &retry.Transport{Base: wholeBodies{rt}, Policy: func() retry.Policy { return policy }},
			CheckRedirect: checkRedirect,
		},
		plain:   &http.Client{Transport: rt, CheckRedirect: checkRedirect},
		tls:     hosts,
		clients: map[clientKey]*auth.Client{},
		caches:  map[string]auth.Cache{},
		gates:   map[string]*challengeGate{},
	}, nil
}

// ClientCertState is the client certificate given for a registry host, and
// what the registry made of it.
type ClientCertState struct {
	// Cert is the client certificate given for the host
	// (Options.CertFile's, or its directory's under Options.CertsDir);
	// nil if none.
	Cert *x509.Certificate
	// File is the file Cert was read from.
	File string
	// Requested says that the host asked for a client certificate.
	Requested bool
	// WantedCAs, when set, are the CAs (quoted names, the first few) the
	// host asked for client certificates of: none of them issued Cert,
	// which was not presented.
	WantedCAs []string
}

// ClientCert returns the state of host's client certificate.
func (c *Client) ClientCert(host string) (ClientCertState, error) {
	h, err := c.tls.get(host)
	if err != nil {
		return ClientCertState{}, err
	}
	st := ClientCertState{File: h.certFile, Requested: h.auth.requested.Load()}
	if h.auth.cert != nil {
		st.Cert = h.auth.cert.Leaf
	}
	if wanted := h.auth.withheld.Load(); wanted != nil {
		st.WantedCAs = *wanted
	}
	return st, nil
}

// Options returns the options the client was built with.
func (c *Client) Options() Options { return c.opts }

// Store returns the credential store, as it was read when the client was
// built.
func (c *Client) Store() credentials.Store { return c.store }

// FreshStore reads the credential store again (docker's config.json, or
// the one Options.ConfigFile names), for login and logout: a store changes
// the whole file when it saves an entry, so one read when the client was
// built, seconds before, would write back the file as it was then and drop
// an entry another process saved meanwhile.
func (c *Client) FreshStore() (credentials.Store, error) { return newStore(c.opts) }

// newStore opens the credential store opts name.
func newStore(opts Options) (credentials.Store, error) {
	store, err := credentialStore(opts.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: %v: %w", err, errdef.ErrUsage)
	}
	return store, nil
}

// ConfigPath returns the docker config.json the store reads and writes
// (configPath); empty if there is no home directory to find it in.
func (c *Client) ConfigPath() string {
	p, _ := configPath(c.opts.ConfigFile)
	return p
}

// HTTPClient returns the retrying HTTP client under the auth layer.
func (c *Client) HTTPClient() *http.Client { return c.http }

// authClient returns the auth client for host, one per host (and way of
// retrying) so that the bearer-realm policy is per registry; the two of a
// host share its cache. oras-go's cache is keyed by host, so a Basic
// credential goes ahead of a challenge only to the host that asked for it
// (never to a redirect's target, which http.Client strips it from), and to
// one talked to in plain HTTP only where PlainHTTP says so.
func (c *Client) authClient(host string, retrying bool) *auth.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := clientKey{host, retrying}
	if ac, ok := c.clients[key]; ok {
		return ac
	}
	hc := c.plain
	if retrying {
		hc = c.http
	}
	cache, ok := c.caches[host]
	if !ok {
		cache = auth.NewCache()
		c.caches[host] = cache
	}
	ac := &auth.Client{
		// Its requests, to the registry or wherever it sends them, are
		// made for host (tlsHosts.forRequest).
		Client:     &http.Client{Transport: onBehalfOf{host, plainCredentials{c, hc.Transport}}, CheckRedirect: hc.CheckRedirect},
		Credential: credentials.Credential(c.store),
		Cache:      cache,
		Header:     http.Header{"User-Agent": {c.opts.UserAgent}},
	}
	// oras-go refuses bearer realms on loopback addresses (SSRF guard). A
	// registry that is itself on loopback may have its token service there
	// too, so the guard is relaxed for those only.
	if isLoopback(host) {
		ac.BlockedRealmPrefixes = []netip.Prefix{}
	}
	c.clients[key] = ac
	return ac
}

// FirstAnswered is closed once host's first request of the run has had
// its answer (its challenge met), or has taken longer than the host's
// other requests wait for it. Work that can wait a round trip waits for
// it, so that the first request is one of another part of the run that
// cannot.
func (c *Client) FirstAnswered(host string) <-chan struct{} { return c.gate(host).done }

// FirstFailed reports, once FirstAnswered is closed, whether host's first
// request failed for good: no answer, or a server error, too many requests
// or a refusal of the credentials, its retries spent. False while it is in
// flight, and where it went on past the others' patience.
func (c *Client) FirstFailed(host string) bool { return c.gate(host).failed.Load() }

// gate returns host's challengeGate.
func (c *Client) gate(host string) *challengeGate {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.gates[host]
	if !ok {
		g = newChallengeGate()
		c.gates[host] = g
	}
	return g
}

// Repository returns a client for name ("host[:port]/path/repo"; a tag or
// digest on it is ignored).
func (c *Client) Repository(name string) (*remote.Repository, error) {
	return c.repository(name, true)
}

// UploadRepository is Repository without the transport's own retries, for
// transfer.Uploader, which retries each chunk knowing the registry's offset.
func (c *Client) UploadRepository(name string) (*remote.Repository, error) {
	return c.repository(name, false)
}

// TagListMaxPages bounds the pages of a tag list a repository reads: a
// registry's tag list is paged, and a hostile or broken one can page
// without end.
const TagListMaxPages = 1000

func (c *Client) repository(name string, retrying bool) (*remote.Repository, error) {
	ref, err := registry.ParseReference(name)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %v: %w", name, err, errdef.ErrUsage)
	}
	ref.Reference = ""
	return &remote.Repository{
		Client:               reauthClient{c.authClient(ref.Registry, retrying), c.gate(ref.Registry), ref.Registry, c.opts},
		Reference:            ref,
		PlainHTTP:            c.PlainHTTP(ref.Registry),
		TagListMaxPages:      TagListMaxPages,
		ReferrerListMaxPages: 100,
		// Where a registry lacks the referrers API, adding a referrer
		// replaces the sha256-<hex> index tag. oras-go then deletes the old
		// index, which fails the push on a registry that does not allow
		// deletes (the CNCF distribution registry as it ships) and races
		// with another import adding the same referrers. We never delete:
		// the old index is left untagged, for the registry's own garbage
		// collection.
		SkipReferrersGC: true,
	}, nil
}

// Registry returns a client for a registry host.
func (c *Client) Registry(host string) (*remote.Registry, error) {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %v: %w", host, err, errdef.ErrUsage)
	}
	// The auth client itself (not reauthClient): oras-go's login takes
	// nothing else.
	reg.Client = c.authClient(host, true)
	reg.PlainHTTP = c.PlainHTTP(host)
	return reg, nil
}

// PlainHTTP reports whether host (HOST[:PORT]) is talked to in plain HTTP:
// all are with Options.PlainHTTP, else those of Options.PlainHTTPHosts.
func (c *Client) PlainHTTP(host string) bool {
	return c.opts.PlainHTTP || c.opts.PlainHTTPHost(host)
}

// PlainHTTPHost reports whether host (HOST[:PORT]) is one of
// PlainHTTPHosts, letter case aside (host names are not case-sensitive).
func (o Options) PlainHTTPHost(host string) bool {
	return slices.ContainsFunc(o.PlainHTTPHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// plainCredentials refuses a request that carries credentials (an
// Authorization header, or a token request's form: a password or refresh
// token) in plain HTTP to a host that is not talked to so (PlainHTTP): a
// registry of PlainHTTPHosts may name a token service on another host in
// plain HTTP, which oras-go takes for a registry asked in plain HTTP, and
// would send it the registry's credentials unencrypted, to a host the
// operator never named.
type plainCredentials struct {
	c    *Client
	base http.RoundTripper
}

func (p plainCredentials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !p.c.PlainHTTP(req.URL.Host) &&
		(req.Header.Get("Authorization") != "" || strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded")) {
		closeBody(req)
		return nil, &PlainCredentialsError{Registry: registryOf(req), Host: req.URL.Host}
	}
	return p.base.RoundTrip(req)
}

// PlainCredentialsError is a request not sent (plainCredentials): it
// carried credentials for Registry in plain HTTP to Host, which
// --plain-http-host does not name. No one refused them: they did not go.
type PlainCredentialsError struct {
	Registry, Host string
}

func (e *PlainCredentialsError) Error() string {
	return fmt.Sprintf("credentials for %s not sent in plain HTTP to %s, which --plain-http-host does not name (the registry's token service): --plain-http-host %s, if it has no TLS: %v", e.Registry, e.Host, e.Host, errdef.ErrUnavailable)
}

func (e *PlainCredentialsError) Unwrap() error { return errdef.ErrUnavailable }

// registryOf is the registry req is made for (onBehalfOf), else its host.
func registryOf(req *http.Request) string {
	if reg, _ := req.Context().Value(registryKey{}).(string); reg != "" {
		return reg
	}
	return req.URL.Host
}

// maxRedirects is net/http's own bound, which a CheckRedirect replaces.
const maxRedirects = 10

// refuseDowngrade refuses a redirect from HTTPS to plain HTTP (a blob sent
// to a storage backend by its URL): without --plain-http, stella never
// talks HTTP, and oras-go would only drop the credentials, not the
// redirect. The refusal names the host, not the URL, whose query may be a
// signature granting access.
func refuseDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects: %w", maxRedirects, errdef.ErrUnavailable)
	}
	// A request sent in plain HTTP from the start (a host the operator
	// named for it) may be redirected in plain HTTP: that is no downgrade.
	if req.URL.Scheme != "https" && via[0].URL.Scheme == "https" {
		return fmt.Errorf("%s redirected to plain HTTP on %s: refused (stella talks HTTP only with --plain-http, or to the registries of --plain-http-host): %w", via[0].URL.Host, req.URL.Host, errdef.ErrUnavailable)
	}
	return nil
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// retryPolicy is oras-go's default (5 retries, exponential backoff with
// jitter) that honours a registry's Retry-After (retryAfterPolicy), with a wider idea of a transient fault: a
// connection closed before the answer (io.EOF), reset or timed out. Every
// request this client retries is idempotent for a registry (GET, HEAD,
// manifest PUT by digest, upload POST); blob chunks go through the
// uploader, which retries knowing the registry's offset.
func retryPolicy(retries int) retry.Policy {
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	return retryAfterPolicy{&retry.GenericPolicy{
		Retryable: retryable,
		Backoff:   retry.DefaultBackoff,
		MinWait:   200 * time.Millisecond,
		MaxWait:   3 * time.Second,
		MaxRetry:  retries,
	}}
}

func retryable(resp *http.Response, err error) (bool, error) {
	if err != nil {
		if IsTransient(err) || errors.Is(err, io.EOF) {
			return true, nil
		}
		return false, err
	}
	if resp.StatusCode >= 500 && storageFaultAnswer(resp) {
		return false, nil // told by Classify; no retry mends it
	}
	return retry.DefaultPredicate(resp, nil)
}

// maxWholeBody bounds the answers wholeBodies reads at once: every manifest
// and index a bundle holds is at most 4 MiB (bundle.MaxManifestSize).
const maxWholeBody = 4 << 20

// wholeBodies reads the body of a small GET answer (a manifest, an index,
// a tag or referrers list, a small blob) before handing the answer on, so
// that a body cut short fails the round trip, which the retry layer above
// retries, instead of failing a read deep in the caller, which nothing
// would. Larger answers, those of unknown length, and those of requests
// made with a Streaming context stream: blob copies retry them whole
// (transfer.CopyBlobs, the placement of import and sync).
type wholeBodies struct{ base http.RoundTripper }

func (w wholeBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.ContentLength < 0 || resp.ContentLength > maxWholeBody ||
		req.Context().Value(streamingKey{}) != nil {
		return resp, err
	}
	data := make([]byte, resp.ContentLength)
	n, err := io.ReadFull(resp.Body, data)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("GET %s: answer cut short after %d of %d bytes: %w", withoutQuery(req.URL), n, resp.ContentLength, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// withoutQuery is u as errors print it: no password, no query (which may be
// a storage backend's signature, see dropQueries).
func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.User = "", false, nil
	return c.String()
}

type streamingKey struct{}

// Streaming marks the requests made with the context it returns as read by
// a caller that streams the answer and retries a body cut short itself (a
// blob copy): their answers are handed on as they come, whatever their
// size, where a small one would otherwise be read whole first.
func Streaming(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamingKey{}, true)
}

// credentialStore opens the docker config.json credential store
// (configPath).
func credentialStore(configFile string) (credentials.Store, error) {
	path, err := configPath(configFile)
	if err != nil {
		return nil, err
	}
	store, err := credentials.NewStore(path, credentials.StoreOptions{AllowPlaintextPut: true})
	if err != nil {
		return nil, err
	}
	return fileStore{store, path}, nil
}

// errNoHome means there is no home directory to find docker's config.json
// in, and no DOCKER_CONFIG.
var errNoHome = errors.New("no home directory ($HOME unset, and the user has none): set DOCKER_CONFIG or --registry-config")

// homeDir returns $HOME (%USERPROFILE%), else the user's home from the
// password database, as docker does: a far-side host runs stella from
// cron, a systemd unit or a bare container, where HOME is not set.
func homeDir() (string, error) {
	if home, err := os.UserHomeDir(); err == nil {
		return home, nil
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir, nil
	}
	return "", errNoHome
}

// configPath returns the docker config.json to use: the file given, else
// docker's own ($DOCKER_CONFIG, else ~/.docker). A config.json that is a
// symlink (dotfiles kept in a repository, a mounted secret) is written
// through, as docker does: login replaces the file the link names, not the
// link, and a link to a file not there yet (a dotfiles link made before
// the first login) has it made where the link points.
func configPath(configFile string) (string, error) {
	if configFile == "" {
		dir := os.Getenv("DOCKER_CONFIG")
		// DOCKER_CONFIG is the directory that holds config.json; set to the
		// file itself (a common slip), it failed as ".../config.json/
		// config.json: not a directory", naming neither.
		if fi, err := os.Stat(dir); dir != "" && err == nil && !fi.IsDir() {
			return "", fmt.Errorf("DOCKER_CONFIG=%s names a file: set it to the directory that holds config.json (DOCKER_CONFIG=%s)", dir, filepath.Dir(dir))
		}
		if dir == "" {
			home, err := homeDir()
			if err != nil {
				return "", err
			}
			dir = filepath.Join(home, ".docker")
		}
		configFile = filepath.Join(dir, "config.json")
	}
	if target, err := filepath.EvalSymlinks(configFile); err == nil {
		return target, nil
	}
	return danglingTarget(configFile)
}

// maxLinks bounds the links followed to a file not there, as the kernel
// bounds them (ELOOP): a cycle of links must not loop for ever.
const maxLinks = 40

// danglingTarget returns the file a chain of symlinks at path ends in
// when that file is not there (EvalSymlinks fails on it), each relative
// link read from the directory it really lies in (its own directory's
// symlinks resolved: ~/.docker may itself be a link, and the kernel reads
// ../x from where the link is, not from the name it was reached by); path
// itself if it is no link. A chain that loops, or passes maxLinks, is an
// error, as the kernel's ELOOP: the link must not be replaced by a file.
func danglingTarget(path string) (string, error) {
	target := path
	for range maxLinks {
		link, err := os.Readlink(target)
		if err != nil {
			return target, nil
		}
		if !filepath.IsAbs(link) {
			dir := filepath.Dir(target)
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			link = filepath.Join(dir, link)
		}
		target = link
	}
	return "", fmt.Errorf("%s: a chain of symlinks that loops, or passes %d: make it name a file", path, maxLinks)
}
