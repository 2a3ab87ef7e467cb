package remote

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
)

// maxPEMFile bounds what is read of --cert-file, --key-file, --ca-file and
// the files under --certs-dir: a chain of a few certificates is some
// kilobytes, the system's whole CA bundle some 220; a megabyte is a wrong
// file.
const maxPEMFile = 1 << 20

// loadClientCert reads the client certificate (a PEM chain, leaf first)
// and its unencrypted private key (PKCS#8, PKCS#1 or SEC1) for mutual TLS.
// Its errors are one line naming the file and the flag, and never hold
// the key's bytes: they come from this function's own words, not from a
// parser that might quote its input.
func loadClientCert(certFile, keyFile string) (tls.Certificate, error) {
	switch {
	case certFile != "" && keyFile == "":
		return tls.Certificate{}, fmt.Errorf("--cert-file %s needs --key-file, the certificate's private key: %w", certFile, errdef.ErrUsage)
	case certFile == "" && keyFile != "":
		return tls.Certificate{}, fmt.Errorf("--key-file %s needs --cert-file, the client certificate it is the key of: %w", keyFile, errdef.ErrUsage)
	}
	return loadClientCertAs("--cert-file", certFile, "--key-file", keyFile)
}

// loadClientCertAs is loadClientCert for files that errors name after
// certFlag and keyFlag.
func loadClientCertAs(certFlag, certFile, keyFlag, keyFile string) (tls.Certificate, error) {
	certPEM, err := readPEMFile(certFlag, certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // a key beside the certificates, say: taken from --key-file only
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s %s: certificate %d does not parse: %w", certFlag, certFile, len(chain)+1, errdef.ErrUsage)
		}
		chain = append(chain, block.Bytes)
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s %s: no PEM certificate found: %w", certFlag, certFile, errdef.ErrUsage)
	}
	leaf, _ := x509.ParseCertificate(chain[0])
	keyPEM, err := readPEMFile(keyFlag, keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := parsePrivateKey(keyFlag, keyFile, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, fmt.Errorf("%s %s is not the private key of the certificate in %s %s: %w", keyFlag, keyFile, certFlag, certFile, errdef.ErrUsage)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// readPEMFile reads a PEM file named by flag, saying of one that cannot
// be read why, without the path the message already names.
func readPEMFile(flag, name string) ([]byte, error) {
	data, err := readBounded(name)
	if err != nil {
		cause, kind := err, errdef.ErrUsage
		if pathErr := new(os.PathError); errors.As(err, &pathErr) {
			cause = pathErr.Err
		}
		if errors.Is(err, os.ErrNotExist) {
			kind = errdef.ErrNotFound
		}
		return nil, fmt.Errorf("%s %s: %v: %w", flag, name, cause, kind)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s %s: over the %d bytes a PEM certificate or key may have: %w", flag, name, maxPEMFile, errdef.ErrUsage)
	}
	// A UTF-8 byte order mark right before the first BEGIN line (an
	// editor saving "UTF-8 with BOM") hides that block from encoding/pem,
	// which takes a BEGIN only at a line's start: a CA bundle lost its
	// first CA in silence, a client certificate file its leaf.
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF-----BEGIN ")) {
		return nil, fmt.Errorf("%s %s: starts with a UTF-8 byte order mark (saved as \"UTF-8 with BOM\"?), which hides its first PEM block: save it without one: %w", flag, name, errdef.ErrUsage)
	}
	return data, nil
}

// readBounded reads at most maxPEMFile+1 bytes of name.
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxPEMFile+1))
}

// parsePrivateKey finds the private key in a PEM file. An encrypted key is
// refused: stella runs unattended (cron, CI, a far-side script) and has
// nobody to ask for a passphrase, as docker, containerd and skopeo do
// with theirs.
func parsePrivateKey(flag, keyFile string, data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("%s %s: the key is encrypted: stella needs it unencrypted (decrypt it once: openssl pkey -in %s -out %s.plain, kept mode 0600): %w", flag, keyFile, keyFile, keyFile, errdef.ErrUsage)
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("%s %s: a %q is not a TLS private key (want PKCS#8 \"PRIVATE KEY\", PKCS#1 \"RSA PRIVATE KEY\" or SEC1 \"EC PRIVATE KEY\"): %w", flag, keyFile, block.Type, errdef.ErrUsage)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: the %q does not parse: %w", flag, keyFile, block.Type, errdef.ErrUsage)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s %s: the %q is of a kind TLS cannot sign with: %w", flag, keyFile, block.Type, errdef.ErrUsage)
		}
		return signer, nil
	}
	return nil, fmt.Errorf("%s %s: no PEM private key found: %w", flag, keyFile, errdef.ErrUsage)
}

// clientCertAuth presents the client certificate, if any, to a registry
// that asks for one issued by one of its CAs (or names none), and records
// that one asked.
type clientCertAuth struct {
	cert      *tls.Certificate // nil: none given
	requested atomic.Bool
	answered  atomic.Bool // the host answered a request
	// withheld holds the names of the CAs a registry asked for client
	// certificates of, when none of them issued cert, which was then not
	// presented.
	withheld atomic.Pointer[[]string]
}

// getClientCertificate is tls.Config.GetClientCertificate. It presents the
// certificate where the registry takes certificates of a CA that issued
// one of its chain, or names no CA, and none elsewhere, as Go's own choice
// among tls.Config.Certificates does, and docker, containerd and oras with
// it: a certificate given for one registry of a run (the destination of a
// sync) is not shown to another that asks for its own CA's (the source,
// behind a proxy verifying optional client certificates), which would
// learn who connects, and refuse a certificate it cannot verify where it
// takes a connection without one. A registry that then refuses the
// connection is told apart by the names recorded (ClientCertError.WantedCAs).
func (a *clientCertAuth) getClientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	a.requested.Store(true)
	if a.cert == nil {
		return &tls.Certificate{}, nil // none: the handshake goes on without one
	}
	if len(cri.AcceptableCAs) > 0 && !issuedByOneOf(a.cert, cri.AcceptableCAs) {
		names := caNames(cri.AcceptableCAs)
		a.withheld.Store(&names)
		return &tls.Certificate{}, nil
	}
	return a.cert, nil
}

// issuedByOneOf reports whether a certificate of cert's chain was issued
// by one of the CAs whose DER-encoded names cas holds.
func issuedByOneOf(cert *tls.Certificate, cas [][]byte) bool {
	for i, der := range cert.Certificate {
		c := cert.Leaf
		if i > 0 || c == nil {
			var err error
			if c, err = x509.ParseCertificate(der); err != nil {
				continue
			}
		}
		for _, ca := range cas {
			if bytes.Equal(c.RawIssuer, ca) {
				return true
			}
		}
	}
	return false
}

// maxCANames and maxCAName bound what an error quotes of the CA names a
// registry sends: it chooses them, their number and their length.
const (
	maxCANames = 3
	maxCAName  = 128
)

// caNames returns the first CA names of a certificate request, quoted (a
// name may hold anything, a terminal escape included), each its common
// name where it has one.
func caNames(cas [][]byte) []string {
	var out []string
	for i, der := range cas {
		if i == maxCANames {
			out = append(out, fmt.Sprintf("%d more", len(cas)-maxCANames))
			break
		}
		var rdn pkix.RDNSequence
		name := "a CA whose name does not parse"
		if rest, err := asn1.Unmarshal(der, &rdn); err == nil && len(rest) == 0 {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			if name = n.CommonName; name == "" {
				name = n.String()
			}
		}
		if len(name) > maxCAName {
			name = name[:maxCAName] + "…"
		}
		out = append(out, strconv.Quote(name))
	}
	return out
}

// ClientCertError is a registry's refusal of a TLS connection for want of
// an acceptable client certificate: a TLS alert about the certificate
// (certificate required, bad, unknown CA, expired, revoked…), or a bare
// handshake failure after the registry asked for one, which is how TLS
// 1.2 servers refuse a connection without one, or a proxy's HTTP 400
// saying so (nginx). It is not transient: trying again gets the same
// answer.
type ClientCertError struct {
	// Alert is the TLS alert as Go names it ("tls: certificate required");
	// empty for an HTTP refusal (Answer).
	Alert string
	// CertFile is the client certificate given for the registry
	// (--cert-file, or a file under --certs-dir), empty if none was.
	CertFile string
	// WantedCAs, when set, are the CAs (quoted names, the first few) the
	// registry asked for client certificates of: CertFile's was issued by
	// none of them, and was not presented.
	WantedCAs []string
	// NotAfter, when set, is when CertFile's certificate, presented,
	// expired by this machine's clock.
	NotAfter time.Time
	// Answer, when set, is the refusal as a proxy that took the handshake
	// said it in an HTTP 400 answer instead of a TLS alert (nginx's "No
	// required SSL certificate was sent"); Alert is then empty.
	Answer string
	err    error
}

func (e *ClientCertError) Error() string {
	why := fmt.Sprintf("TLS alert %q", strings.TrimPrefix(e.Alert, "tls: "))
	if e.Answer != "" {
		why = fmt.Sprintf("HTTP 400 %q", e.Answer)
	}
	handshake := e.Answer == "" && e.Alert == tls.AlertError(alertHandshakeFailure).Error()
	switch {
	case e.CertFile != "" && len(e.WantedCAs) > 0:
		return fmt.Sprintf("the registry demands a client certificate issued by %s, which the client certificate %s is not (nor its chain), so it was not presented (%s): give one such a CA issued, its intermediate CAs after it in the same file", strings.Join(e.WantedCAs, " or "), e.CertFile, why)
	case e.CertFile != "" && handshake:
		return fmt.Sprintf("the registry refused the TLS handshake with the client certificate %s (%s): it may not trust it (issued by a CA it trusts for client certificates, valid now, meant for client authentication), or share no TLS version or cipher with stella", e.CertFile, why)
	case e.CertFile != "" && !e.NotAfter.IsZero():
		return fmt.Sprintf("the registry refused the client certificate %s (%s): it expired at %s, by this machine's clock: renew it (or check the clock)", e.CertFile, why, e.NotAfter.UTC().Format(time.RFC3339))
	case e.CertFile != "":
		return fmt.Sprintf("the registry refused the client certificate %s (%s): it must be issued by a CA the registry trusts for client certificates, be valid now, and be meant for client authentication", e.CertFile, why)
	case handshake:
		return fmt.Sprintf("the registry refused the TLS handshake (%s) and no client certificate was given: if it demands one (mutual TLS), give --cert-file and --key-file, or --certs-dir", why)
	default:
		return fmt.Sprintf("the registry demands a client certificate (mutual TLS) and none was given (%s): give --cert-file and --key-file, or --certs-dir", why)
	}
}

func (e *ClientCertError) Unwrap() error { return e.err }

// TLS alerts (RFC 8446 §6) a server sends about the client's certificate.
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertCertificateRequired    = 116
)

// clientCertAlert returns the TLS alert the registry sent about the client
// certificate, if err is one. crypto/tls reports an alert received as a
// *net.OpError "remote error" around a value of an unexported type, whose
// text is tls.AlertError's for the same number: that text, made by
// crypto/tls itself, is what is compared.
func clientCertAlert(err error) (string, bool) {
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "remote error" || opErr.Err == nil {
		return "", false
	}
	got := opErr.Err.Error()
	for _, a := range []tls.AlertError{alertHandshakeFailure, alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked,
		alertCertificateExpired, alertCertificateUnknown, alertUnknownCA, alertAccessDenied, alertCertificateRequired} {
		if got == a.Error() {
			return got, true
		}
	}
	return "", false
}

// clientCertErrors turns a registry's TLS alert about the client
// certificate, or a proxy's HTTP refusal of it (nginxRefusal), into a
// ClientCertError, under the retry layer, which then does not retry it.
type clientCertErrors struct {
	base     http.RoundTripper
	auth     *clientCertAuth
	certFile string
}

func (c clientCertErrors) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	var certErr *ClientCertError
	if err != nil {
		alert, ok := clientCertAlert(err)
		if !ok {
			return resp, c.dropped(err)
		}
		if alert == tls.AlertError(alertHandshakeFailure).Error() && !c.auth.requested.Load() {
			// Refused before the registry asked for a certificate: no
			// client certificate matter.
			return nil, &handshakeRefused{err}
		}
		certErr = &ClientCertError{Alert: alert, CertFile: c.certFile, err: err}
	} else {
		c.auth.answered.Store(true)
		var answer string
		if resp, answer = c.nginxRefusal(req, resp); answer == "" {
			return resp, nil
		}
		resp.Body.Close()
		certErr = &ClientCertError{Answer: answer, CertFile: c.certFile}
	}
	if wanted := c.auth.withheld.Load(); wanted != nil && c.certFile != "" {
		certErr.WantedCAs = *wanted
	} else if cert := c.auth.cert; cert != nil && cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		certErr.NotAfter = cert.Leaf.NotAfter
	}
	return nil, certErr
}

// handshakeRefused is a registry's refusal of the TLS handshake (a bare
// "handshake failure" alert) before it asked for a client certificate:
// it shares no TLS version or cipher suite with stella. It is the
// registry's answer, not transient.
type handshakeRefused struct{ err error }

func (e *handshakeRefused) Error() string {
	return fmt.Sprintf("%v: the registry refused the TLS handshake before asking for any client certificate: it shares no TLS version (1.2, 1.3) or cipher suite with stella", e.err)
}

func (e *handshakeRefused) Unwrap() error { return e.err }

// dropped returns err, a connection closed or reset, saying that the
// registry asked for a client certificate and was presented none, if so
// and it has not answered yet: a proxy may drop such a connection
// without a TLS alert or an answer.
func (c clientCertErrors) dropped(err error) error {
	if c.auth.answered.Load() || !c.auth.requested.Load() ||
		!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		return err
	}
	d := &droppedError{err: err}
	if c.auth.cert != nil {
		wanted := c.auth.withheld.Load()
		if wanted == nil {
			return err // presented: the drop is not for want of one
		}
		d.certFile, d.wanted = c.certFile, *wanted
	}
	return d
}

// droppedError is a connection the registry dropped, without a TLS alert
// or an answer, after it asked for a client certificate and was presented
// none. It is still the dropped connection, retried as one.
type droppedError struct {
	err      error
	certFile string
	wanted   []string
}

func (e *droppedError) Error() string {
	if e.certFile != "" {
		return fmt.Sprintf("%v (the registry asked for a client certificate issued by %s, which the client certificate %s is not (nor its chain), so none was presented)", e.err, strings.Join(e.wanted, " or "), e.certFile)
	}
	return fmt.Sprintf("%v (the registry asked for a client certificate and none was given: if it demands one (mutual TLS), give --cert-file and --key-file, or --certs-dir)", e.err)
}

func (e *droppedError) Unwrap() error { return e.err }

// nginxRefusals are the words of the 400 pages nginx (ssl_verify_client)
// answers with once it took a handshake without a client certificate
// (its status 496) or with one it could not verify (495). They are fixed
// in nginx (ngx_http_special_response.c), the one way to tell these 400s
// from others: no header says it.
var nginxRefusals = []string{"No required SSL certificate was sent", "The SSL certificate error"}

// maxRefusalPage bounds what is read of a 400 page to find nginxRefusals:
// nginx's is some 200 bytes, its title first.
const maxRefusalPage = 1 << 10

// nginxRefusal returns which of nginxRefusals a 400 HTML answer is, if
// any, and the answer to hand on, with the bytes read put back. A HEAD's
// answer has no page: GET /v2/ on the same host is asked instead (nginx
// answers every request on such a connection alike). Registries answer
// their 400s in JSON, which costs nothing here.
func (c clientCertErrors) nginxRefusal(req *http.Request, resp *http.Response) (*http.Response, string) {
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return resp, ""
	}
	var page []byte
	if req.Method == http.MethodHead {
		probe, err := http.NewRequestWithContext(req.Context(), http.MethodGet, (&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: "/v2/"}).String(), nil)
		if err != nil {
			return resp, ""
		}
		got, err := c.base.RoundTrip(probe)
		if err != nil {
			return resp, ""
		}
		page, _ = io.ReadAll(io.LimitReader(got.Body, maxRefusalPage))
		got.Body.Close()
		if got.StatusCode != http.StatusBadRequest {
			return resp, ""
		}
	} else {
		var err error
		page, err = io.ReadAll(io.LimitReader(resp.Body, maxRefusalPage))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(page), errReader{err}, resp.Body), resp.Body}
	}
	for _, words := range nginxRefusals {
		if bytes.Contains(page, []byte(words)) {
			return resp, words
		}
	}
	return resp, ""
}

// errReader fails every read with err, if not nil; reads nothing
// otherwise.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}
