package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TokenService is a bearer-token service for the distribution registry's
// token auth (the flow of Docker Hub, Harbor, GitLab and most hosted
// registries): a client that presents one user's password with basic auth
// on a token request gets an ES256 token granting the scopes it asked for;
// the registry checks the token against a JWKS file. Anyone else is refused.
type TokenService struct {
	// Realm is the token endpoint the registry points clients to.
	Realm string
	// Service and Issuer are the token's audience and issuer.
	Service, Issuer string
	// JWKS is the path of the file holding the signing key's public half.
	JWKS string
	// Issued counts the tokens handed out; Refused the requests refused.
	Issued, Refused atomic.Int64
	// AnonymousPull, if set, grants a request without credentials a
	// token of the pull actions it asked for and no others (Docker Hub's
	// and Harbor's public repositories): the registry then refuses its
	// push, insufficient_scope.
	AnonymousPull atomic.Bool

	key            *ecdsa.PrivateKey
	user, password string
}

const tokenKeyID = "stella-test-token-key"

// NewTokenService starts a token service on 127.0.0.1 for one user, writing
// its JWKS into dir. It stops when the test ends.
func NewTokenService(t testing.TB, dir, user, password string) *TokenService {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ts := &TokenService{Service: "stella-test-registry", Issuer: "stella-test-tokens", key: key, user: user, password: password}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":%q,"x":%q,"y":%q}]}`,
		tokenKeyID, b64(point[1:33]), b64(point[33:]))
	ts.JWKS = filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(ts.JWKS, []byte(jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(ts.serveToken))
	t.Cleanup(srv.Close)
	ts.Realm = srv.URL + "/token"
	return ts
}

// serveToken answers GET /token?service=…&scope=…, as distribution's token
// spec describes.
func (ts *TokenService) serveToken(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	anonymous := !ok && ts.AnonymousPull.Load() && r.URL.Query().Get("service") == ts.Service
	if !anonymous && (!ok || user != ts.user || password != ts.password || r.URL.Query().Get("service") != ts.Service) {
		ts.Refused.Add(1)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	var grants []access
	for _, scope := range r.URL.Query()["scope"] {
		for _, s := range strings.Fields(scope) {
			typ, rest, _ := strings.Cut(s, ":")
			i := strings.LastIndex(rest, ":")
			if i < 0 {
				continue
			}
			actions := strings.Split(rest[i+1:], ",")
			if anonymous {
				actions = slices.DeleteFunc(actions, func(a string) bool { return a != "pull" })
			}
			grants = append(grants, access{Type: typ, Name: rest[:i], Actions: actions})
		}
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": ts.Issuer, "sub": user, "aud": ts.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("%d", ts.Issued.Load()+1), "access": grants,
	})
	token, err := ts.sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ts.Issued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339)})
}

// sign makes a compact ES256 JWT of claims.
func (ts *TokenService) sign(claims []byte) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	header := fmt.Sprintf(`{"alg":"ES256","typ":"JWT","kid":%q}`, tokenKeyID)
	signed := b64([]byte(header)) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + b64(sig), nil
}
