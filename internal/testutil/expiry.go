package testutil

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// ExpiringTokens stands for a hosted registry's bearer-token auth in front
// of a registry that has none (Docker Hub's tokens last 300 s, Harbor's 30
// min, so a long transfer outlives the first): every request needs a
// bearer token, and a token stops being accepted once Lifetime requests
// came since it was first presented (the clock is the requests, so that a
// test does not wait), answered 401 with the same challenge as a request
// without one: the client must fetch another from the token service.
// Tokens are not checked further: the token service refuses wrong
// credentials.
type ExpiringTokens struct {
	// Tokens is the service the challenge points to.
	Tokens *TokenService
	// Lifetime is how many requests (all tokens') a token lives for.
	Lifetime int64
	// Expired counts the requests refused for an expired token.
	Expired atomic.Int64

	mu    sync.Mutex
	clock int64
	born  map[string]int64
}

// Wrap is the handler to put in front of the registry (ProxyWrapped,
// RegistryWrapped).
func (e *ExpiringTokens) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && e.use(token) {
			r.Header.Del("Authorization")
			next.ServeHTTP(w, r)
			return
		}
		if ok {
			e.Expired.Add(1)
		}
		challenge := fmt.Sprintf("Bearer realm=%q,service=%q", e.Tokens.Realm, e.Tokens.Service)
		if scope := challengeScope(r); scope != "" {
			challenge += fmt.Sprintf(",scope=%q", scope)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	})
}

// use ticks the clock, reporting whether token is still good.
func (e *ExpiringTokens) use(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.born == nil {
		e.born = map[string]int64{}
	}
	e.clock++
	born, ok := e.born[token]
	if !ok {
		born = e.clock
		e.born[token] = born
	}
	return e.clock-born < e.Lifetime
}

// challengeScope is the scope distribution names in its challenge: the
// repository of the path, pull for reads and pull,push otherwise.
func challengeScope(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	for _, kind := range []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(path, kind); i > 0 {
			actions := "pull"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				actions = "pull,push"
			}
			return "repository:" + path[:i] + ":" + actions
		}
	}
	return ""
}
