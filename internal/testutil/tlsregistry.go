package testutil

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// RegistryTLS starts an in-process registry with the referrers API that
// speaks HTTPS only, its certificate (for 127.0.0.1 and localhost) issued
// by ca, behind wrap if not nil, and returns its host:port. A client
// trusts it with ca's certificate (--ca-file). It stops when the test
// ends.
func RegistryTLS(t testing.TB, ca *CA, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	certFile, keyFile := ca.ServerCert(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	// A plain HTTP request sent to it (a client told --plain-http) is
	// answered 400; the server's log of it is noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}
