package serve_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "serve test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	f := newFixture(t)
	certFile, keyFile, pool := selfSigned(t)
	addr, _, _ := startServer(t, serve.NewHandler(f.content, serve.Options{}), serve.ServerOptions{TLSCertFile: certFile, TLSKeyFile: keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/v2/library/app/manifests/v01")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("%s %+v", resp.Status, resp.TLS)
	}
	if _, err := http.Get("http://" + addr + "/v2/"); err == nil {
		t.Log("plain HTTP on a TLS port answered (400 from net/http)")
	}
}

func TestServerOptionsCheck(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	for _, tt := range []struct {
		name string
		opts serve.ServerOptions
		ok   bool
	}{
		{"plain", serve.ServerOptions{}, true},
		{"tls", serve.ServerOptions{TLSCertFile: certFile, TLSKeyFile: keyFile}, true},
		{"cert only", serve.ServerOptions{TLSCertFile: certFile}, false},
		{"key only", serve.ServerOptions{TLSKeyFile: keyFile}, false},
		{"swapped", serve.ServerOptions{TLSCertFile: keyFile, TLSKeyFile: certFile}, false},
		{"missing", serve.ServerOptions{TLSCertFile: certFile + ".nope", TLSKeyFile: keyFile}, false},
	} {
		err := tt.opts.Check()
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, errdef.ErrUsage)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
