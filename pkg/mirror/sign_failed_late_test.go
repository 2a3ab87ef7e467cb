package mirror_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// failingVault serves the Vault stand-in through a proxy that refuses
// its second sign request: a KMS that fails within a sign,
// between the envelope's signature and SHA256SUMS's (a token revoked, the
// service down). VAULT_ADDR and VAULT_TOKEN are set for the test.
func failingVault(t *testing.T) *atomic.Int64 {
	t.Helper()
	v := testutil.StartVault(t, "mirror-signing")
	target, err := url.Parse(v.Addr)
	if err != nil {
		t.Fatal(err)
	}
	signs := new(atomic.Int64)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/transit/sign/") && signs.Add(1) == 2 {
			http.Error(w, `{"errors":["injected: permission denied"]}`, http.StatusBadRequest)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("VAULT_ADDR", srv.URL)
	t.Setenv("VAULT_TOKEN", v.Token)
	return signs
}

// TestSignFailedLateLeavesBundleAsItWas: a sign of a bundle directory
// whose KMS key fails at the signature of SHA256SUMS, after index.json
// named the new referrer, leaves the bundle as it was, file for file, and
// verifying as it did. It left the new manifest.dsse and index.json (the
// old referrer's blobs removed) beside the old SHA256SUMS: verify-checksums
// failed (mismatch, not listed), and pack and push refused the bundle
// until it was signed again.
func TestSignFailedLateLeavesBundleAsItWas(t *testing.T) {
	ctx := context.Background()
	unsigned := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	signed := copyBundle(t, unsigned)
	sign(t, signed, priv)
	for _, tt := range []struct {
		name, from string
		trust      mirror.TrustOptions
	}{
		{"unsigned", unsigned, mirror.TrustOptions{}},
		{"a second signer", signed, trustKeys(pub)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signs := failingVault(t)
			dir := copyBundle(t, tt.from)
			before := readTree(t, dir)
			_, err := mirror.Sign(ctx, mirror.SignOptions{
				Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
				Key: "hashivault://mirror-signing", Created: fixedTime,
			})
			if err == nil || signs.Load() != 2 {
				t.Fatalf("sign with the KMS failing at SHA256SUMS: %v after %d sign requests, want an error after 2", err, signs.Load())
			}
			checkBundleAsItWas(t, dir, before, tt.trust, err)
		})
	}
}
