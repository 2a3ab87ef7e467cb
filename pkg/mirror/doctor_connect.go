package mirror

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/stellaops/mirror/pkg/remote"
)

// probe is one doctor run: the checks done so far and what was written,
// so that it can be removed again.
type probe struct {
	client *remote.Client
	host   string
	repo   string
	limit  int64
	res    *DoctorResult
	log    *slog.Logger

	tgt      *target
	nonce    string
	blob     ocispec.Descriptor // the probe blob, unique to this run
	base     ocispec.Descriptor // a plain manifest: the subject
	referrer ocispec.Descriptor // an artifact manifest whose subject is base
	subject  string             // the OCI-Subject header sent back on referrer
	written  []ocispec.Descriptor
	tags     []string
	blobsIn  []string // repositories holding the probe blob
}

func (p *probe) add(name string, status CheckStatus, format string, args ...any) {
	c := DoctorCheck{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)}
	p.res.Checks = append(p.res.Checks, c)
	p.log.Info("doctor", "check", c.Name, "status", c.Status, "detail", c.Detail)
}

func (p *probe) run(ctx context.Context) {
	if !p.connect(ctx) {
		return
	}
	p.write(ctx)
}

// scheme is the URL scheme the client uses for the registry.
func (p *probe) scheme() string {
	if p.client.PlainHTTP(p.host) {
		return "http"
	}
	return "https"
}

// connect pings /v2/ without credentials, to see the registry's TLS and the
// authentication it asks for, then with them, as every command would.
func (p *probe) connect(ctx context.Context) bool {
	url := p.scheme() + "://" + p.host + "/v2/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.add(CheckReachable, CheckFail, "%v", err)
		return false
	}
	req.Header.Set("User-Agent", p.client.Options().UserAgent)
	start := time.Now()
	resp, err := p.client.HTTPClient().Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
		case schemeMismatch(err):
			p.add(CheckReachable, CheckPass, "TCP connection to %s accepted", p.host)
			p.add(CheckTLS, CheckFail, "the registry answered in plain HTTP: add --plain-http-host %s, or --plain-http (and know that credentials then travel unencrypted)", p.host)
		case errors.As(err, new(*remote.ClientCertError)):
			p.add(CheckReachable, CheckPass, "TCP connection to %s accepted; the TLS handshake was refused", p.host)
			p.add(CheckClientCert, CheckFail, "%v", remote.Classify(err))
		case isTLSError(err):
			p.add(CheckReachable, CheckPass, "TCP connection to %s accepted; the TLS handshake failed", p.host)
			p.add(CheckTLS, CheckFail, "%v", remote.Classify(err))
		default:
			p.add(CheckReachable, CheckFail, "GET %s: %v", url, remote.Classify(err))
		}
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	took := time.Since(start).Round(time.Millisecond)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		hint := "not an OCI registry's /v2/ endpoint"
		if p.client.PlainHTTP(p.host) && resp.StatusCode == http.StatusBadRequest {
			hint = "it may speak HTTPS: drop --plain-http (or this host from --plain-http-host)"
		}
		p.add(CheckReachable, CheckFail, "GET %s answered %s: %s", url, resp.Status, hint)
		return false
	}
	p.add(CheckReachable, CheckPass, "GET %s answered %d in %s", url, resp.StatusCode, took)
	p.checkTLS(resp)
	p.checkClientCert()
	return p.checkAuth(ctx, resp)
}

func (p *probe) checkTLS(resp *http.Response) {
	opts := p.client.Options()
	switch {
	case opts.PlainHTTP:
		p.add(CheckTLS, CheckSkip, "plain HTTP (--plain-http): nothing is encrypted, credentials included")
	case p.client.PlainHTTP(p.host):
		p.add(CheckTLS, CheckSkip, "plain HTTP (--plain-http-host): nothing is encrypted, credentials included")
	case resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0:
		p.add(CheckTLS, CheckWarn, "no TLS connection state to report")
	case opts.Insecure:
		p.add(CheckTLS, CheckWarn, "certificate NOT verified (--insecure): for tests only; use --ca-file with the registry's CA")
	default:
		leaf := resp.TLS.PeerCertificates[0]
		detail := fmt.Sprintf("%s, certificate for %s issued by %q, verified, valid until %s",
			tls.VersionName(resp.TLS.Version), certNames(leaf), leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
		if time.Until(leaf.NotAfter) < 30*24*time.Hour {
			p.add(CheckTLS, CheckWarn, "%s: expires within 30 days", detail)
			return
		}
		p.add(CheckTLS, CheckPass, "%s", detail)
	}
}

// checkClientCert says whether the registry asked for a client certificate
// (mutual TLS) on the connection that answered, and whether one was
// presented. A registry that demands one and refused it failed connect.
func (p *probe) checkClientCert() {
	if p.client.PlainHTTP(p.host) {
		return // no TLS: the tls check says so
	}
	st, err := p.client.ClientCert(p.host)
	cert, file := st.Cert, st.File
	switch {
	case err != nil:
		p.add(CheckClientCert, CheckFail, "%v", err)
	case cert != nil && len(st.WantedCAs) > 0:
		p.add(CheckClientCert, CheckInfo, "the registry asked for a client certificate issued by %s and took the connection without one: %s, issued by %q, was not presented",
			strings.Join(st.WantedCAs, " or "), file, cert.Issuer.CommonName)
	case cert != nil && st.Requested:
		detail := fmt.Sprintf("the registry asked for a client certificate; %s, for %q issued by %q, valid until %s, was presented and accepted",
			file, cert.Subject.CommonName, cert.Issuer.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
		if time.Until(cert.NotAfter) < 30*24*time.Hour {
			p.add(CheckClientCert, CheckWarn, "%s: it expires within 30 days", detail)
			return
		}
		p.add(CheckClientCert, CheckPass, "%s", detail)
	case st.Requested:
		p.add(CheckClientCert, CheckInfo, "the registry asked for a client certificate and, none given, accepted the connection without one")
	case cert != nil:
		p.add(CheckClientCert, CheckInfo, "the registry did not ask for a client certificate: %s was not sent", file)
	default:
		p.add(CheckClientCert, CheckInfo, "the registry did not ask for a client certificate (no mutual TLS)")
	}
}

// checkAuth reads the challenge of the anonymous ping and pings again the
// way every command does, with the credentials of the docker config.
func (p *probe) checkAuth(ctx context.Context, anon *http.Response) bool {
	if anon.StatusCode == http.StatusOK {
		p.add(CheckAuth, CheckPass, "no authentication required")
		return true
	}
	scheme, realm := parseChallenge(anon.Header.Get("WWW-Authenticate"))
	what := scheme + " authentication"
	if realm != "" && strings.EqualFold(scheme, "bearer") {
		what += " (token service " + realm + ")"
	}
	cred, err := credentials.Credential(p.client.Store())(ctx, p.host)
	if err != nil {
		// An entry that cannot be read (remote.CredentialsError)
		// is no absence of credentials: every command fails on it.
		p.add(CheckAuth, CheckFail, "the registry asks for %s; the credentials for %s could not be read: %v", what, p.host, err)
		return false
	}
	haveCred := cred != auth.EmptyCredential
	reg, err := p.client.Registry(p.host)
	if err == nil {
		err = reg.Ping(ctx)
	}
	switch {
	case err == nil && haveCred:
		p.add(CheckAuth, CheckPass, "%s; the credentials for %s were accepted", what, p.host)
		return true
	case err == nil:
		p.add(CheckAuth, CheckPass, "%s; an anonymous token was accepted (write access is checked below)", what)
		return true
	case !haveCred:
		p.add(CheckAuth, CheckFail, "the registry asks for %s and there are no credentials for %s: run `%s` (the password on stdin), docker login, or give --registry-config", what, p.host, LoginCommand(p.host, p.client.Options()))
	case errors.As(err, new(*remote.PlainCredentialsError)):
		// stella kept them back: the registry never saw them.
		p.add(CheckAuth, CheckFail, "the registry asks for %s; the credentials for %s were not sent: %v", what, p.host, remote.Classify(err))
	default:
		p.add(CheckAuth, CheckFail, "the registry asks for %s and refused the credentials for %s: %v", what, p.host, remote.Classify(err))
	}
	return false
}

// LoginCommand is the login that saves credentials for host where a run
// with o reads them, as a command that runs as written: login reads the
// password from stdin only, and talks to the registry and writes the
// config file as the flags of o say.
func LoginCommand(host string, o remote.Options) string { return o.LoginCommand(host) }

// parseChallenge returns the scheme and realm of a WWW-Authenticate header.
func parseChallenge(h string) (scheme, realm string) {
	scheme, params, _ := strings.Cut(strings.TrimSpace(h), " ")
	if scheme == "" {
		scheme = "unnamed"
	}
	for _, kv := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, "realm") {
			realm = strings.Trim(v, `"`)
		}
	}
	return scheme, realm
}

func certNames(c *x509.Certificate) string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return c.Subject.CommonName
	}
	return strings.Join(names, ", ")
}

// schemeMismatch reports whether an HTTPS request met a plain HTTP server.
func schemeMismatch(err error) bool {
	var rh tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) || (errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/")
}

// isTLSError reports whether err is a failed certificate check or TLS alert.
func isTLSError(err error) bool {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &alert)
}
