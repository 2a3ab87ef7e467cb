package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stellaops/mirror/pkg/errdef"
)

// hostTLS is how requests reach one registry host: its TLS settings in two
// transports (HTTP/2 where the registry speaks it, and HTTP/1.1 only, for
// firstContact), and what presents its client certificate.
type hostTLS struct {
	auth        *clientCertAuth
	certFile    string // the client certificate presented, "" for none
	first, rest http.RoundTripper
	// ownDir says the settings come from the host's directory under the
	// certs directory.
	ownDir bool
}

// newHostTLS builds a host's transports from template, with cfg (cloned)
// presenting cert, if any.
func newHostTLS(template *http.Transport, cfg *tls.Config, cert *tls.Certificate, certFile string) *hostTLS {
	h := &hostTLS{auth: &clientCertAuth{cert: cert}, certFile: certFile}
	t := template.Clone()
	t.TLSClientConfig = cfg.Clone()
	t.TLSClientConfig.GetClientCertificate = h.auth.getClientCertificate
	h.first = clientCertErrors{http1Only(t), h.auth, certFile}
	h.rest = clientCertErrors{t, h.auth, certFile}
	return h
}

// tlsHosts hands out each registry host's hostTLS: the one of its
// directory under Options.CertsDir where it has one, else the default
// (Options.CAFile, CertFile and KeyFile). Each host has its own, so that
// what one registry asked for is not taken for another's.
type tlsHosts struct {
	template *http.Transport
	config   *tls.Config // the default's, before its client certificate
	cert     *tls.Certificate
	certFile string
	dir      string

	mu    sync.Mutex
	hosts map[string]*hostTLS
	errs  map[string]error
}

// get returns host's hostTLS, reading its directory under the certs
// directory the first time. A directory that cannot be used fails every
// request to the host, naming the file at fault.
func (t *tlsHosts) get(host string) (*hostTLS, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.hosts[host]; ok {
		return h, nil
	}
	if err, ok := t.errs[host]; ok {
		return nil, err
	}
	h, err := t.load(host)
	if err != nil {
		t.errs[host] = err
		return nil, err
	}
	t.hosts[host] = h
	return h, nil
}

// load reads dir/host as docker and containers/image do: every *.crt is a
// CA trusted for the host, beside the system's and --ca-file's; NAME.cert
// with NAME.key is the client certificate presented to it, instead of
// --cert-file's. A host without a directory gets the default.
func (t *tlsHosts) load(host string) (*hostTLS, error) {
	if t.dir == "" {
		return newHostTLS(t.template, t.config, t.cert, t.certFile), nil
	}
	dir := filepath.Join(t.dir, host)
	if strings.ContainsAny(host, `/\`) || host == "" || host == "." || host == ".." {
		return nil, fmt.Errorf("--certs-dir: registry host %q is not a directory name: %w", host, errdef.ErrUsage)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return newHostTLS(t.template, t.config, t.cert, t.certFile), nil
	}
	if err != nil {
		return nil, fmt.Errorf("--certs-dir %s: %v: %w", dir, unwrapPath(err), errdef.ErrUsage)
	}
	cfg := t.config.Clone()
	var certs, keys []string
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".crt":
			data, err := readPEMFile("--certs-dir", name)
			if err != nil {
				return nil, err
			}
			if cfg.RootCAs == nil {
				if cfg.RootCAs, err = x509.SystemCertPool(); err != nil || cfg.RootCAs == nil {
					cfg.RootCAs = x509.NewCertPool()
				}
			} else {
				cfg.RootCAs = cfg.RootCAs.Clone()
			}
			if !cfg.RootCAs.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("--certs-dir %s: no PEM certificate found: %w", name, errdef.ErrUsage)
			}
		case ".cert":
			certs = append(certs, name)
		case ".key":
			keys = append(keys, name)
		}
	}
	for _, k := range keys {
		if c := strings.TrimSuffix(k, ".key") + ".cert"; !slices.Contains(certs, c) {
			return nil, fmt.Errorf("--certs-dir %s: no client certificate %s beside it: %w", k, filepath.Base(c), errdef.ErrUsage)
		}
	}
	switch len(certs) {
	case 0:
		h := newHostTLS(t.template, cfg, t.cert, t.certFile)
		h.ownDir = true
		return h, nil
	case 1:
	default:
		return nil, fmt.Errorf("--certs-dir %s: %d client certificates (%s): keep one: %w", dir, len(certs), strings.Join(baseNames(certs), ", "), errdef.ErrUsage)
	}
	keyFile := strings.TrimSuffix(certs[0], ".cert") + ".key"
	if !slices.Contains(keys, keyFile) {
		return nil, fmt.Errorf("--certs-dir %s: no key %s beside it: %w", certs[0], filepath.Base(keyFile), errdef.ErrUsage)
	}
	cert, err := loadClientCertAs("--certs-dir", certs[0], "--certs-dir", keyFile)
	if err != nil {
		return nil, err
	}
	h := newHostTLS(t.template, cfg, &cert, certs[0])
	h.ownDir = true
	return h, nil
}

// forRequest returns the hostTLS of req's host, or, where the host has no
// directory under the certs directory, that of the registry req is made
// for (onBehalfOf) if it has one: a token service or a blob store on
// another host that a registry sends stella to gets the registry's CAs and
// client certificate, as docker gives them (its certs.d names registries,
// not the hosts they send clients to).
func (t *tlsHosts) forRequest(req *http.Request) (*hostTLS, error) {
	h, err := t.get(req.URL.Host)
	if err != nil || h.ownDir {
		return h, err
	}
	if reg, _ := req.Context().Value(registryKey{}).(string); reg != "" && reg != req.URL.Host {
		if r, err := t.get(reg); err == nil && r.ownDir {
			return r, nil
		}
	}
	return h, nil
}

// registryKey is the context key of the registry host a request is made
// for.
type registryKey struct{}

// onBehalfOf marks the requests through it as made for registry, whatever
// host they go to (a token service, a redirect's target).
type onBehalfOf struct {
	registry string
	base     http.RoundTripper
}

func (o onBehalfOf) RoundTrip(req *http.Request) (*http.Response, error) {
	return o.base.RoundTrip(req.WithContext(context.WithValue(req.Context(), registryKey{}, o.registry)))
}

// routed sends each request through its host's transport: the HTTP/1.1
// one if first, else the other.
type routed struct {
	hosts *tlsHosts
	first bool
}

func (r routed) RoundTrip(req *http.Request) (*http.Response, error) {
	h, err := r.hosts.forRequest(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if r.first {
		return h.first.RoundTrip(req)
	}
	return h.rest.RoundTrip(req)
}

func unwrapPath(err error) error {
	if pathErr := new(os.PathError); errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
