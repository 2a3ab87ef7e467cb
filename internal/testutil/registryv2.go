package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RegistryV2Binary finds the CNCF (formerly Docker) registry v2.8 binary,
// what the registry:2 image runs and many air-gapped sites still do:
// $STELLA_REGISTRY_V2_BIN, then docker-registry on $PATH (Debian's
// docker-registry package, which .ci/run installs). Without it the test is
// skipped, unless STELLA_E2E=1 (as in CI), where it fails.
func RegistryV2Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("STELLA_REGISTRY_V2_BIN"); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p
	}
	if os.Getenv("STELLA_E2E") == "1" {
		t.Fatal("registry v2.8 binary docker-registry not found (run .ci/run, or apt-get install docker-registry)")
	}
	t.Skip("registry v2.8 binary docker-registry not found; apt-get install docker-registry (CI sets STELLA_E2E=1 and fails instead)")
	return ""
}

// DistributionV2 starts the registry v2.8 on 127.0.0.1 with a fresh
// storage directory and returns its host:port; it stops when the test
// ends. It has no referrers API and keeps referrers under the
// sha256-<hex> fallback tag, like v3, but deletes no tag by name.
func DistributionV2(t testing.TB) string {
	t.Helper()
	return DistributionV2With(t, DistributionOptions{})
}

// DistributionV2With starts the registry v2.8 with options: for
// Htpasswd, TLSCert, TLSKey and NoDelete its configuration is v3's. Token
// is not: v2.8 reads the token service's key from a rootcertbundle, not
// from jwks, and does not start with it.
func DistributionV2With(t testing.TB, opts DistributionOptions) string {
	t.Helper()
	addr, stop, err := StartDistribution(RegistryV2Binary(t), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}
