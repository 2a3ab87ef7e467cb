package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestSyncBetweenTLSAndPlainHTTP: a connected registry with TLS and a lab
// registry without it could not be synced: --plain-http talks HTTP to both
// sides, and without it the plain one fails. --to-plain-http and
// --from-plain-http talk plain HTTP to that side only, the other keeping
// TLS and its --ca-file.
func TestSyncBetweenTLSAndPlainHTTP(t *testing.T) {
	r, mirror := tlsAndPlainRegistries(t)
	tlsHost, plainHost, bundleDir := r.tlsHost, r.plainHost, r.bundleDir
	mirror("push to the TLS registry", 0, "push", bundleDir, tlsHost+"/stellaops/mirror-bundle:2025.10.0")

	// --plain-http is both sides: the TLS one answers 400.
	if stderr := mirror("sync, --plain-http", ExitInput, "sync", tlsHost+"/stellaops/mirror-bundle:2025.10.0", plainHost+"/stellaops/mirror-bundle", "--plain-http"); !strings.Contains(stderr, "drop --plain-http") {
		t.Errorf("sync --plain-http to a TLS source does not say to drop it:\n%s", stderr)
	}
	// --from-plain-http of the TLS side: the flag to drop is named, and
	// the registry (found by review: it said to drop --plain-http, or the
	// registry from --plain-http-host, neither of which the run had).
	if stderr := mirror("sync, --from-plain-http of the TLS side", ExitInput, "sync", tlsHost+"/stellaops/mirror-bundle:2025.10.0", plainHost+"/stellaops/mirror-bundle", "--from-plain-http"); !strings.Contains(stderr, "drop --plain-http, the --from-plain-http or --to-plain-http of its side of a sync or an import REF, or "+tlsHost+" from --plain-http-host") {
		t.Errorf("sync --from-plain-http of a TLS source does not say to drop it:\n%s", stderr)
	}
	// Neither: the plain one is refused, naming --plain-http.
	mirror("sync, HTTPS both", ExitInput, "sync", tlsHost+"/stellaops/mirror-bundle:2025.10.0", plainHost+"/stellaops/mirror-bundle")

	mirror("sync TLS to plain", 0, "sync", tlsHost+"/stellaops/mirror-bundle:2025.10.0", plainHost+"/stellaops/mirror-bundle", "--to-plain-http", "--images")
	mirror("sync plain to TLS", 0, "sync", plainHost+"/stellaops/mirror-bundle:2025.10.0", tlsHost+"/copy/mirror-bundle", "--from-plain-http")
	mirror("pull back from TLS", 0, "pull", tlsHost+"/copy/mirror-bundle:2025.10.0", filepath.Join(t.TempDir(), "pulled"))
	if tags := testutil.Tags(t, plainHost); len(tags["stellaops/mirror-bundle"]) == 0 || len(tags["stellaops/authority"]) == 0 {
		t.Errorf("the plain registry holds %v after the sync, want the bundle and its images", tags)
	}
}

// tlsAndPlain is a registry with TLS and one without, a signed bundle,
// and what a client of the TLS one needs (its CA, an empty config).
type tlsAndPlain struct {
	tlsHost, plainHost, bundleDir, caFile, config string
}

// tlsAndPlainRegistries starts a registry with TLS and one without and
// signs a bundle; mirror runs stella mirror with the bundle's key, the
// TLS registry's CA and the empty --registry-config, fails the test on
// another exit code than want, and returns stderr.
func tlsAndPlainRegistries(t *testing.T) (r tlsAndPlain, mirror func(name string, want int, args ...string) string) {
	t.Helper()
	dir := t.TempDir()
	r.config = filepath.Join(dir, "config.json")
	os.WriteFile(r.config, []byte("{}"), 0o600)
	ca := testutil.NewRootCA(t, "Registry CA")
	r.caFile = testutil.WritePEM(t, dir, "ca.pem", ca.Cert)
	certFile, keyFile := ca.ServerCert(t, dir)
	r.tlsHost = testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: certFile, TLSKey: keyFile})
	r.plainHost = testutil.Registry(t)
	bundleDir, pub := signBundle(t, testBundle(t))
	r.bundleDir = bundleDir
	common := []string{"--key", pub, "--ca-file", r.caFile, "--registry-config", r.config, "--quiet"}
	return r, func(name string, want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, append(append([]string{"mirror"}, args...), common...)...)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s%s", name, code, want, stdout, stderr)
		}
		return stderr
	}
}
