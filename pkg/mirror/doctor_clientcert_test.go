package mirror_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestDoctorClientCert: the doctor says whether a registry asked for a
// client certificate and whether one was presented: accepted (its 24-hour
// certificate draws an expiry warning), missing or refused (the registry
// is not usable, the check naming --cert-file), or not asked for.
func TestDoctorClientCert(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testutil.NewRootCA(t, "Registry CA"), testutil.NewRootCA(t, "Client CA"), testutil.NewRootCA(t, "Other CA")
	caFile := testutil.WritePEM(t, dir, "ca.pem", serverCA.Cert)
	cert, key := clientCA.ClientCert(t, dir, "client")
	wrongCert, wrongKey := otherCA.ClientCert(t, dir, "wrong")
	mtls := testutil.RegistryMTLS(t, serverCA, clientCA, 0)
	optional := testutil.RegistryMTLSOptional(t, serverCA, clientCA)
	serverCert, serverKey := serverCA.ServerCert(t, dir)
	oneWay := testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: serverCert, TLSKey: serverKey})
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	tests := []struct {
		name      string
		host      string
		cert, key string
		status    mirror.CheckStatus
		want      string
	}{
		{"accepted", mtls.Host, cert, key, mirror.CheckWarn, `the registry asked for a client certificate; ` + cert + `, for "client" issued by "Client CA", valid until`},
		{"none given", mtls.Host, "", "", mirror.CheckFail, "the registry demands a client certificate (mutual TLS) and none was given"},
		{"another CA's", mtls.Host, wrongCert, wrongKey, mirror.CheckFail, `the registry demands a client certificate issued by "Client CA", which the client certificate ` + wrongCert + " is not"},
		{"another CA's, optional", optional.Host, wrongCert, wrongKey, mirror.CheckInfo, `asked for a client certificate issued by "Client CA" and took the connection without one: ` + wrongCert + `, issued by "Other CA", was not presented`},
		{"not asked, given", oneWay, cert, key, mirror.CheckInfo, "did not ask for a client certificate: " + cert + " was not sent"},
		{"not asked", oneWay, "", "", mirror.CheckInfo, "did not ask for a client certificate (no mutual TLS)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := remote.New(remote.Options{CAFile: caFile, CertFile: tt.cert, KeyFile: tt.key, ConfigFile: cfg, Retries: -1})
			if err != nil {
				t.Fatal(err)
			}
			res, err := doctor(t, tt.host, client)
			c := res.Check(mirror.CheckClientCert)
			if c == nil || c.Status != tt.status || !strings.Contains(c.Detail, tt.want) {
				t.Fatalf("client-cert: %+v (err %v); want %s with %q", c, err, tt.status, tt.want)
			}
			if (tt.status == mirror.CheckFail) != errors.Is(err, errdef.ErrUnavailable) || (tt.status == mirror.CheckFail) == res.Usable {
				t.Errorf("usable %v, err %v", res.Usable, err)
			}
		})
	}
}
