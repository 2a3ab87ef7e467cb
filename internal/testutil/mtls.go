package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// ClientCert makes a TLS client certificate named name under ca, and
// writes it (with ca's certificate after it, as a chain) and its SEC1 key
// as PEM into dir as name.pem and name.key.
func (ca *CA) ClientCert(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true,
	}
	cert := NewCert(t, tmpl, ca, &k.PublicKey, ca.Key)
	certFile = WritePEM(t, dir, name+".pem", cert, ca.Cert)
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// MTLSRegistry is an in-process registry (with the referrers API) served
// twice: over HTTPS demanding a client certificate, as a registry behind a
// mutual-TLS proxy is, and over plain HTTP, for a test to fill and read it
// without one.
type MTLSRegistry struct {
	// Host is the host:port of the HTTPS side.
	Host string
	// PlainHost is the host:port of the plain HTTP side.
	PlainHost string
	// hellos counts the TLS handshakes the HTTPS side began.
	hellos atomic.Int64
}

// Handshakes is the number of TLS handshakes clients began with the HTTPS
// side, refused ones included.
func (r *MTLSRegistry) Handshakes() int64 { return r.hellos.Load() }

// RegistryMTLS starts an MTLSRegistry whose HTTPS side has a certificate
// issued by serverCA and demands a client certificate issued by clientCA
// (tls.RequireAndVerifyClientCert). maxVersion, if not 0, caps the TLS
// version: a TLS 1.2 server refuses a handshake without a client
// certificate with "handshake failure", a TLS 1.3 one with "certificate
// required". Both sides stop when the test ends.
func RegistryMTLS(t testing.TB, serverCA, clientCA *CA, maxVersion uint16) *MTLSRegistry {
	t.Helper()
	return registryMTLS(t, serverCA, clientCA, maxVersion, tls.RequireAndVerifyClientCert)
}

// RegistryMTLSOptional is RegistryMTLS asking for a client certificate of
// clientCA without demanding one (tls.VerifyClientCertIfGiven, nginx's
// ssl_verify_client optional): it refuses one it cannot verify, and takes
// a connection without one.
func RegistryMTLSOptional(t testing.TB, serverCA, clientCA *CA) *MTLSRegistry {
	t.Helper()
	return registryMTLS(t, serverCA, clientCA, 0, tls.VerifyClientCertIfGiven)
}

func registryMTLS(t testing.TB, serverCA, clientCA *CA, maxVersion uint16, auth tls.ClientAuthType) *MTLSRegistry {
	t.Helper()
	certFile, keyFile := serverCA.ServerCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.Cert)
	h := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	r := &MTLSRegistry{}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true // as the distribution registry: requests share a connection
	srv.TLS = &tls.Config{
		MinVersion: tls.VersionTLS12, MaxVersion: maxVersion,
		Certificates: []tls.Certificate{pair}, ClientAuth: auth, ClientCAs: pool,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			r.hellos.Add(1)
			return nil, nil
		},
	}
	// The refused handshakes are the point; the server's log of each is
	// noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	r.Host, r.PlainHost = strings.TrimPrefix(srv.URL, "https://"), strings.TrimPrefix(plain.URL, "http://")
	return r
}
