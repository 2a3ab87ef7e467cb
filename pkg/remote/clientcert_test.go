package remote_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// mtlsSetup is a registry demanding client certificates of clientCA, and
// what a client needs to trust it.
type mtlsSetup struct {
	dir, caFile, config         string
	serverCA, clientCA, otherCA *testutil.CA
}

func newMTLSSetup(t *testing.T) *mtlsSetup {
	t.Helper()
	dir := t.TempDir()
	s := &mtlsSetup{dir: dir, serverCA: testutil.NewRootCA(t, "Registry CA"), clientCA: testutil.NewRootCA(t, "Client CA"), otherCA: testutil.NewRootCA(t, "Other CA")}
	s.caFile = testutil.WritePEM(t, dir, "registry-ca.pem", s.serverCA.Cert)
	s.config = filepath.Join(dir, "config.json")
	if err := os.WriteFile(s.config, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes key as PEM of the given type into dir/name.
func writeKey(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A registry demanding a client certificate is reached with --cert-file
// and --key-file, whatever the key's PEM form (SEC1, PKCS#8, PKCS#1 RSA).
// Without them there was no way to present one.
func TestClientCertReachesMTLSRegistry(t *testing.T) {
	s := newMTLSSetup(t)
	reg := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)

	sec1Cert, sec1Key := s.clientCA.ClientCert(t, s.dir, "sec1")
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	clientUse := testutil.LeafOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	inter := s.clientCA.Intermediate(t, "Client Intermediate CA")
	for _, tt := range []struct{ name, cert, key string }{
		{"SEC1", sec1Cert, sec1Key},
		{"PKCS#8", testutil.WritePEM(t, s.dir, "p8.pem", s.clientCA.Leaf(t, "p8", &ec.PublicKey, clientUse), s.clientCA.Cert),
			writeKey(t, s.dir, "p8.key", "PRIVATE KEY", ecDER)},
		{"PKCS#1", testutil.WritePEM(t, s.dir, "rsa.pem", s.clientCA.Leaf(t, "rsa", &rsaKey.PublicKey, clientUse)),
			writeKey(t, s.dir, "rsa.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))},
		// The registry names the root; the leaf's issuer is in the chain.
		{"issued by an intermediate", testutil.WritePEM(t, s.dir, "inter.pem", inter.Leaf(t, "inter", &ec.PublicKey, clientUse), inter.Cert),
			writeKey(t, s.dir, "inter.key", "PRIVATE KEY", ecDER)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := remote.New(remote.Options{CAFile: s.caFile, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config})
			if err != nil {
				t.Fatal(err)
			}
			reg2, err := c.Registry(reg.Host)
			if err != nil {
				t.Fatal(err)
			}
			if err := reg2.Ping(t.Context()); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if st, err := c.ClientCert(reg.Host); st.Cert == nil || st.File != tt.cert || !st.Requested || st.WantedCAs != nil || err != nil {
				t.Errorf("ClientCert() = %+v, %v; want the certificate, %s, requested", st, err, tt.cert)
			}
		})
	}
}

// A registry refusing the connection for its client certificate (none
// given, or one of a CA it does not trust), over TLS 1.3 ("certificate
// required", "unknown certificate authority") and TLS 1.2 ("handshake failure"), gives one
// line naming --cert-file (or the file refused), classified as the untrusted-CA case is
// (ErrUnavailable), and is not retried: the registry sees one handshake.
func TestClientCertRefused(t *testing.T) {
	s := newMTLSSetup(t)
	wrongCert, wrongKey := s.otherCA.ClientCert(t, s.dir, "wrong")
	expired, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expiredDER, _ := x509.MarshalPKCS8PrivateKey(expired)
	expiredCert := testutil.WritePEM(t, s.dir, "expired.pem", s.clientCA.Leaf(t, "expired", &expired.PublicKey, testutil.LeafOptions{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}))
	expiredKey := writeKey(t, s.dir, "expired.key", "PRIVATE KEY", expiredDER)
	for _, tt := range []struct {
		name        string
		version     uint16
		cert, key   string
		want, want2 string
	}{
		{"TLS 1.3, none", 0, "", "", "demands a client certificate (mutual TLS) and none was given", `"certificate required"): give --cert-file and --key-file`},
		{"TLS 1.2, none", tls.VersionTLS12, "", "", "no client certificate was given: if it demands one (mutual TLS), give --cert-file and --key-file", `"handshake failure"`},
		{"TLS 1.3, wrong CA", 0, wrongCert, wrongKey, `demands a client certificate issued by "Client CA", which the client certificate ` + wrongCert + " is not", `so it was not presented (TLS alert "certificate required")`},
		{"TLS 1.2, wrong CA", tls.VersionTLS12, wrongCert, wrongKey, `demands a client certificate issued by "Client CA", which the client certificate ` + wrongCert + " is not", "so it was not presented"},
		{"TLS 1.3, expired", 0, expiredCert, expiredKey, "refused the client certificate " + expiredCert, `"expired certificate"): it expired at `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, tt.version)
			c, err := remote.New(remote.Options{CAFile: s.caFile, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config, Retries: 3})
			if err != nil {
				t.Fatal(err)
			}
			repo, err := c.Repository(reg.Host + "/stellaops/authority")
			if err != nil {
				t.Fatal(err)
			}
			_, err = repo.Resolve(t.Context(), "latest")
			err = remote.Classify(err)
			var certErr *remote.ClientCertError
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if !errors.As(err, &certErr) || !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(msg, tt.want) ||
				!strings.Contains(msg, tt.want2) || strings.Contains(msg, "\n") {
				t.Fatalf("err = %v\nwant a ClientCertError, ErrUnavailable, one line saying %q and %s", err, tt.want, tt.want2)
			}
			if n := reg.Handshakes(); n != 1 {
				t.Errorf("%d handshakes, want 1 (a refusal is not retried)", n)
			}
		})
	}
}

// --cert-file and --key-file that cannot be used fail New, before any
// request, with one line naming the file at fault (usage, exit 1; not found
// for a missing file, as --ca-file), and never with the key's bytes.
func TestClientCertFileErrors(t *testing.T) {
	s := newMTLSSetup(t)
	dir := s.dir
	certFile, keyFile := s.clientCA.ClientCert(t, dir, "client")
	otherCert, otherKey := s.otherCA.ClientCert(t, dir, "other")
	keyPEM, _ := os.ReadFile(keyFile)
	block, _ := pem.Decode(keyPEM)
	// The key's bytes, corrupted after the first 8 so that the parser
	// fails on them.
	bad := append([]byte{}, block.Bytes...)
	for i := 8; i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	garbled := writeKey(t, dir, "garbled.key", "EC PRIVATE KEY", bad)
	encrypted := writeKey(t, dir, "encrypted.key", "ENCRYPTED PRIVATE KEY", block.Bytes)
	legacy := filepath.Join(dir, "legacy.key")
	os.WriteFile(legacy, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: bad}), 0o600)
	cosignKey := writeKey(t, dir, "cosign.key", "ENCRYPTED SIGSTORE PRIVATE KEY", bad)
	for _, tt := range []struct {
		name, cert, key string
		wantErr         error
		names, want     string
	}{
		{"cert without key", certFile, "", errdef.ErrUsage, certFile, "needs --key-file"},
		{"key without cert", "", keyFile, errdef.ErrUsage, keyFile, "needs --cert-file"},
		{"cert missing", filepath.Join(dir, "missing.pem"), keyFile, errdef.ErrNotFound, "missing.pem", "no such file"},
		{"key missing", certFile, filepath.Join(dir, "missing.key"), errdef.ErrNotFound, "missing.key", "no such file"},
		{"cert is a directory", dir, keyFile, errdef.ErrUsage, "--cert-file " + dir, "is a directory"},
		{"cert is a key", keyFile, keyFile, errdef.ErrUsage, "--cert-file " + keyFile, "no PEM certificate found"},
		{"key is a certificate", certFile, certFile, errdef.ErrUsage, "--key-file " + certFile, "no PEM private key found"},
		{"key of another certificate", certFile, otherKey, errdef.ErrUsage, otherKey, "is not the private key of the certificate in --cert-file " + certFile},
		{"certificate of another key", otherCert, keyFile, errdef.ErrUsage, keyFile, "is not the private key of the certificate in --cert-file " + otherCert},
		{"garbled key", certFile, garbled, errdef.ErrUsage, garbled, "does not parse"},
		{"encrypted PKCS#8", certFile, encrypted, errdef.ErrUsage, encrypted, "the key is encrypted: stella needs it unencrypted"},
		{"encrypted legacy PEM", certFile, legacy, errdef.ErrUsage, legacy, "the key is encrypted"},
		{"cosign key", certFile, cosignKey, errdef.ErrUsage, cosignKey, "is not a TLS private key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := remote.New(remote.Options{CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !errors.Is(err, tt.wantErr) || !strings.Contains(msg, tt.names) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("err = %v\nwant %v, one line naming %s and saying %q", err, tt.wantErr, tt.names, tt.want)
			}
			for _, f := range []string{keyFile, otherKey, garbled} {
				data, _ := os.ReadFile(f)
				b, _ := pem.Decode(data)
				if strings.Contains(msg, string(data)) || strings.Contains(msg, string(b.Bytes[:16])) || strings.Contains(msg, "PRIVATE KEY-----") {
					t.Errorf("key material in the error: %v", err)
				}
			}
		})
	}
}

// Requests made at once to a registry refusing the client certificate all
// fail with a ClientCertError. Over HTTP/2 they shared the first
// connection: one read the registry's alert and the others failed with
// "http2: client connection force closed via ClientConn.Close" or a reset,
// so create (8 image lookups at once) reported a dropped connection.
func TestClientCertRefusedToConcurrentRequests(t *testing.T) {
	s := newMTLSSetup(t)
	reg := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			repo, err := c.Repository(fmt.Sprintf("%s/stellaops/image%d", reg.Host, i))
			if err == nil {
				_, err = repo.Resolve(t.Context(), "latest")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; !errors.As(err, new(*remote.ClientCertError)) {
			t.Errorf("err = %v, want a ClientCertError", err)
		}
	}
	if h := reg.Handshakes(); h != 1 {
		t.Errorf("%d handshakes, want 1: the refusal holds for the run", h)
	}
}

// writeHostDir fills certsDir/host as docker's certs.d: ca.crt, and the
// client pair as client.cert and client.key.
func writeHostDir(t *testing.T, certsDir, host string, serverCA *testutil.CA, certFile, keyFile string) string {
	t.Helper()
	dir := filepath.Join(certsDir, host)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WritePEM(t, dir, "ca.crt", serverCA.Cert)
	for from, to := range map[string]string{certFile: "client.cert", keyFile: "client.key"} {
		if from == "" {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// --certs-dir gives each registry its own CA and client certificate, read
// from DIR/HOST[:PORT]/ as docker and podman read certs.d: two registries
// demanding certificates of different CAs, behind certificates of
// different CAs, are both reached by one client. A host whose directory
// holds no client pair gets --cert-file's; a host without a directory
// gets the defaults.
func TestCertsDir(t *testing.T) {
	s := newMTLSSetup(t)
	serverB, clientB := testutil.NewRootCA(t, "Registry B CA"), testutil.NewRootCA(t, "Client B CA")
	a := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)
	b := testutil.RegistryMTLS(t, serverB, clientB, 0)
	certA, keyA := s.clientCA.ClientCert(t, s.dir, "a")
	certB, keyB := clientB.ClientCert(t, s.dir, "b")
	certsDir := t.TempDir()
	writeHostDir(t, certsDir, a.Host, s.serverCA, certA, keyA)
	dirB := writeHostDir(t, certsDir, b.Host, serverB, certB, keyB)

	ping := func(c *remote.Client, host string) error {
		reg, err := c.Registry(host)
		if err != nil {
			t.Fatal(err)
		}
		return remote.Classify(reg.Ping(t.Context()))
	}
	c, err := remote.New(remote.Options{CertsDir: certsDir, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{a.Host, b.Host} {
		if err := ping(c, host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if st, _ := c.ClientCert(b.Host); st.File != filepath.Join(dirB, "client.cert") || !st.Requested {
		t.Errorf("ClientCert(%s) = %+v; want %s, requested", b.Host, st, filepath.Join(dirB, "client.cert"))
	}

	// B's directory with its CA only: --cert-file's pair is presented.
	onlyCA := t.TempDir()
	writeHostDir(t, onlyCA, b.Host, serverB, "", "")
	for _, tt := range []struct {
		name, cert, key string
		ok              bool
	}{{"--cert-file of B's CA", certB, keyB, true}, {"--cert-file of A's CA", certA, keyA, false}} {
		c, err := remote.New(remote.Options{CertsDir: onlyCA, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		err = ping(c, b.Host)
		if (err == nil) != tt.ok || (!tt.ok && !strings.Contains(fmt.Sprint(err), `issued by "Client B CA", which the client certificate `+tt.cert+" is not")) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	// A host without a directory: --ca-file and --cert-file.
	c, err = remote.New(remote.Options{CertsDir: onlyCA, CAFile: s.caFile, CertFile: certA, KeyFile: keyA, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(c, a.Host); err != nil {
		t.Errorf("%s, no directory: %v", a.Host, err)
	}
}

// A host directory that cannot be used fails the requests to that host
// with one line naming the file at fault (usage, exit 1), and a --certs-dir
// that is not there fails New.
func TestCertsDirErrors(t *testing.T) {
	s := newMTLSSetup(t)
	reg := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)
	certFile, keyFile := s.clientCA.ClientCert(t, s.dir, "client")
	otherCert, otherKey := s.otherCA.ClientCert(t, s.dir, "other")
	for _, tt := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"key without certificate", func(dir string) { os.Remove(filepath.Join(dir, "client.cert")) }, "client.key: no client certificate client.cert beside it"},
		{"certificate without key", func(dir string) { os.Remove(filepath.Join(dir, "client.key")) }, "client.cert: no key client.key beside it"},
		{"two certificates", func(dir string) {
			data, _ := os.ReadFile(otherCert)
			os.WriteFile(filepath.Join(dir, "other.cert"), data, 0o600)
			data, _ = os.ReadFile(otherKey)
			os.WriteFile(filepath.Join(dir, "other.key"), data, 0o600)
		}, "2 client certificates (client.cert, other.cert): keep one"},
		{"key of another certificate", func(dir string) {
			data, _ := os.ReadFile(otherKey)
			os.WriteFile(filepath.Join(dir, "client.key"), data, 0o600)
		}, "client.key is not the private key of the certificate in --certs-dir "},
		{"CA file without a certificate", func(dir string) { os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("not PEM\n"), 0o600) }, "ca.crt: no PEM certificate found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certsDir := t.TempDir()
			dir := writeHostDir(t, certsDir, reg.Host, s.serverCA, certFile, keyFile)
			tt.setup(dir)
			c, err := remote.New(remote.Options{CertsDir: certsDir, ConfigFile: s.config, Retries: -1})
			if err != nil {
				t.Fatal(err)
			}
			repo, err := c.Repository(reg.Host + "/stellaops/authority")
			if err != nil {
				t.Fatal(err)
			}
			_, err = repo.Resolve(t.Context(), "latest")
			msg := fmt.Sprint(err)
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(msg, "--certs-dir "+dir) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("err = %v\nwant usage, one line naming %s and saying %q", err, dir, tt.want)
			}
			if n := reg.Handshakes(); n != 0 {
				t.Errorf("%d handshakes with a directory that cannot be used", n)
			}
		})
	}
	_, err := remote.New(remote.Options{CertsDir: filepath.Join(s.dir, "missing"), ConfigFile: s.config})
	if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(fmt.Sprint(err), "--certs-dir "+filepath.Join(s.dir, "missing")) {
		t.Errorf("missing --certs-dir: %v", err)
	}
}

// What each refusal says, for the alerts no test server here sends: an
// OpenSSL TLS 1.2 server refuses a certificate it does not trust, as it
// refuses a connection without one, with a bare "handshake failure",
// which may also mean no TLS version or cipher in common.
func TestClientCertErrorWords(t *testing.T) {
	for _, tt := range []struct {
		err  remote.ClientCertError
		want string
	}{
		{remote.ClientCertError{Alert: "tls: handshake failure", CertFile: "client.pem"}, `the registry refused the TLS handshake with the client certificate client.pem (TLS alert "handshake failure"): it may not trust it`},
		{remote.ClientCertError{Alert: "tls: handshake failure"}, "no client certificate was given: if it demands one (mutual TLS), give --cert-file and --key-file, or --certs-dir"},
		{remote.ClientCertError{Alert: "tls: expired certificate", CertFile: "client.pem"}, `the registry refused the client certificate client.pem (TLS alert "expired certificate")`},
	} {
		if got := tt.err.Error(); !strings.Contains(got, tt.want) {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

// The client certificate goes only to a registry that takes certificates
// of its CA, or names none, as docker, containerd and oras (Go's own
// choice) present theirs. It went to any registry that asked: one that
// asks for client certificates of its own CA without demanding one (nginx
// ssl_verify_client optional, Go's VerifyClientCertIfGiven), as the source
// of a sync whose destination wants --cert-file's may, refused the
// connection, and learnt who the operator is. Both registries here are
// reached with one client, and the first sees no certificate.
func TestClientCertPresentedOnlyToRegistriesOfItsCA(t *testing.T) {
	s := newMTLSSetup(t)
	certFile, keyFile := s.clientCA.ClientCert(t, s.dir, "client")
	others := x509.NewCertPool()
	others.AddCert(s.otherCA.Cert)
	var sawCert sync.Map
	optional := tlsRegistryWith(t, s.serverCA, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				sawCert.Store(r.TLS.PeerCertificates[0].Subject.CommonName, true)
			}
			next.ServeHTTP(w, r)
		})
	}, func(cfg *tls.Config) { cfg.ClientAuth, cfg.ClientCAs = tls.VerifyClientCertIfGiven, others })
	demanding := testutil.RegistryMTLS(t, s.serverCA, s.clientCA, 0)
	c, err := remote.New(remote.Options{CAFile: s.caFile, CertFile: certFile, KeyFile: keyFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{optional, demanding.Host} {
		reg, err := c.Registry(host)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Ping(t.Context()); err != nil {
			t.Errorf("%s: %v", host, remote.Classify(err))
		}
	}
	sawCert.Range(func(cn, _ any) bool {
		t.Errorf("the registry asking for certificates of another CA was presented %q", cn)
		return true
	})
}

// nginxRefusal answers as nginx with ssl_verify_client does once the
// handshake is done: 400 with its page for a request that came without a
// client certificate (its 496) or with one it could not verify (495).
func nginxRefusal(requests *atomic.Int64) func(http.Handler) http.Handler {
	page := func(w http.ResponseWriter, title string) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Server", "nginx")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<html>\r\n<head><title>400 %s</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>%s</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", title, title)
	}
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			if len(r.TLS.PeerCertificates) == 0 {
				page(w, "No required SSL certificate was sent")
				return
			}
			page(w, "The SSL certificate error")
		})
	}
}

// A proxy that refuses the connection in HTTP rather than in the
// handshake (nginx with ssl_verify_client: 400 "No required SSL
// certificate was sent", "The SSL certificate error") is told apart as
// a TLS alert is: one line saying what was wrong, naming the file and the
// flags, ErrUnavailable (exit 1), and not asked again. stella said
// "response status code 400: Bad Request", naming no certificate.
func TestClientCertRefusedByNginx(t *testing.T) {
	s := newMTLSSetup(t)
	certFile, keyFile := s.clientCA.ClientCert(t, s.dir, "client")
	wrongCert, wrongKey := s.otherCA.ClientCert(t, s.dir, "wrong")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(s.clientCA.Cert)
	expired, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expiredDER, _ := x509.MarshalPKCS8PrivateKey(expired)
	notAfter := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	expiredCert := testutil.WritePEM(t, s.dir, "expired.pem", s.clientCA.Leaf(t, "expired", &expired.PublicKey, testutil.LeafOptions{
		NotBefore: notAfter.Add(-24 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}))
	expiredKey := writeKey(t, s.dir, "expired.key", "PRIVATE KEY", expiredDER)
	expiredAt := notAfter.UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name, cert, key, want string
	}{
		{"none given", "", "", `the registry demands a client certificate (mutual TLS) and none was given (HTTP 400 "No required SSL certificate was sent"): give --cert-file and --key-file`},
		{"refused", certFile, keyFile, `the registry refused the client certificate ` + certFile + ` (HTTP 400 "The SSL certificate error")`},
		// nginx says the same of any certificate it does not take.
		{"expired", expiredCert, expiredKey, `the registry refused the client certificate ` + expiredCert + ` (HTTP 400 "The SSL certificate error"): it expired at ` + expiredAt + `, by this machine's clock`},
		{"another CA's", wrongCert, wrongKey, `issued by "Client CA", which the client certificate ` + wrongCert + ` is not (nor its chain), so it was not presented (HTTP 400 "No required SSL certificate was sent")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int64
			host := tlsRegistryWith(t, s.serverCA, nginxRefusal(&requests), func(cfg *tls.Config) { cfg.ClientAuth, cfg.ClientCAs = tls.RequestClientCert, clientCAs })
			c, err := remote.New(remote.Options{CAFile: s.caFile, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config, Retries: 3})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				repo, err := c.Repository(host + "/stellaops/authority")
				if err != nil {
					t.Fatal(err)
				}
				_, err = repo.Resolve(t.Context(), "latest")
				err = remote.Classify(err)
				msg := fmt.Sprint(err)
				if !errors.As(err, new(*remote.ClientCertError)) || !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
					t.Fatalf("err = %v\nwant a ClientCertError, ErrUnavailable, one line saying %q", err, tt.want)
				}
			}
			// Resolve's HEAD, and a GET for the page a HEAD's answer lacks.
			if n := requests.Load(); n != 2 {
				t.Errorf("%d requests, want 2: the refusal holds for the run", n)
			}
		})
	}
}

// Another 400 page reaches the caller whole, its first bytes read and
// put back.
func TestOther400PageIsHandedOn(t *testing.T) {
	s := newMTLSSetup(t)
	page := strings.Repeat("<p>not a certificate matter</p>\n", 100)
	host := tlsRegistry(t, s.serverCA, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, page)
		})
	})
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, c, "https://"+host+"/v2/")
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusBadRequest || string(got) != page {
		t.Errorf("%d, %d bytes (%v); want 400 and the page of %d bytes", resp.StatusCode, len(got), err, len(page))
	}
}

// A registry that sends a blob's GET to a store on another host behind
// the same mutual TLS (its CA and client certificates) is followed with
// the registry's directory under --certs-dir, as docker does: its
// certs.d names registries, not the hosts they send clients to, and a
// token service or a blob store has no directory of its own. The store
// was reached with the defaults: its certificate untrusted, no client
// certificate.
func TestCertsDirServesARegistrysRedirects(t *testing.T) {
	s := newMTLSSetup(t)
	certFile, keyFile := s.clientCA.ClientCert(t, s.dir, "client")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(s.clientCA.Cert)
	demand := func(cfg *tls.Config) { cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs }
	blob := []byte("a layer kept in the blob store\n")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	store := tlsRegistryWith(t, s.serverCA, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(blob) })
	}, demand)
	reg := tlsRegistryWith(t, s.serverCA, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				http.Redirect(w, r, "https://"+store+"/store/"+desc.Digest.Encoded(), http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, demand)
	certsDir := t.TempDir()
	writeHostDir(t, certsDir, reg, s.serverCA, certFile, keyFile)
	c, err := remote.New(remote.Options{CertsDir: certsDir, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(reg + "/stellaops/authority")
	if err != nil {
		t.Fatal(err)
	}
	got, err := content.FetchAll(t.Context(), repo, desc)
	if err != nil || string(got) != string(blob) {
		t.Fatalf("fetch through the redirect: %q, %v", got, remote.Classify(err))
	}
}

// A registry (or its proxy) that asked for a client certificate and,
// given none, drops the connection without a TLS alert or an answer gets
// an error that says so, still retried as a dropped connection is. stella
// said "EOF", naming no certificate.
func TestDroppedAfterClientCertRequest(t *testing.T) {
	s := newMTLSSetup(t)
	wrongCert, wrongKey := s.otherCA.ClientCert(t, s.dir, "wrong")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(s.clientCA.Cert)
	host := tlsRegistryWith(t, s.serverCA, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		})
	}, func(cfg *tls.Config) { cfg.ClientAuth, cfg.ClientCAs = tls.RequestClientCert, clientCAs })
	for _, tt := range []struct{ name, cert, key, want string }{
		{"none given", "", "", "the registry asked for a client certificate and none was given: if it demands one (mutual TLS), give --cert-file and --key-file, or --certs-dir"},
		{"another CA's", wrongCert, wrongKey, `the registry asked for a client certificate issued by "Client CA", which the client certificate ` + wrongCert + " is not (nor its chain), so none was presented"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := remote.New(remote.Options{CAFile: s.caFile, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: s.config, Retries: -1})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.HTTPClient().Get("https://" + host + "/v2/")
			if err == nil {
				resp.Body.Close()
			}
			if msg := fmt.Sprint(err); !strings.Contains(msg, tt.want) || !remote.IsTransient(err) && !errors.Is(err, io.EOF) {
				t.Errorf("err = %v\nwant a dropped connection saying %q", err, tt.want)
			}
		})
	}
}

// A request without a host (a redirect to "https:///path") does not read
// the certs directory itself as a host's: a stray key there was taken
// for a client certificate's.
func TestCertsDirNoHost(t *testing.T) {
	s := newMTLSSetup(t)
	certsDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(certsDir, "stray.key"), []byte("not for any host"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := remote.New(remote.Options{CertsDir: certsDir, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.HTTPClient().Get("https:///v2/")
	if err == nil || strings.Contains(err.Error(), "stray.key") {
		t.Errorf("err = %v, want a refusal that reads nothing of %s", err, certsDir)
	}
}

// A TLS 1.2 registry that refuses the handshake before asking for a
// client certificate (no cipher in common) is not said to want one: the
// bare "handshake failure" alert is a client certificate matter only once
// the registry asked for one. stella told the operator to give
// --cert-file to a registry that has no mutual TLS.
func TestHandshakeFailureBeforeAnyCertificateRequest(t *testing.T) {
	s := newMTLSSetup(t)
	host := tlsRegistryWith(t, s.serverCA, func(next http.Handler) http.Handler { return next }, func(cfg *tls.Config) {
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA256} // offered by no Go client by default
	})
	c, err := remote.New(remote.Options{CAFile: s.caFile, ConfigFile: s.config, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.HTTPClient().Get("https://" + host + "/v2/")
	err = remote.Classify(err)
	msg := fmt.Sprint(err)
	if errors.As(err, new(*remote.ClientCertError)) || strings.Contains(msg, "--cert-file") || !strings.Contains(msg, "no TLS version (1.2, 1.3) or cipher suite") || !errors.Is(err, errdef.ErrUnavailable) || remote.IsTransient(err) {
		t.Errorf("err = %v\nwant the handshake failure, unavailable, not retried, not a client certificate matter", err)
	}
}
