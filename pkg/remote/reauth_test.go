package remote_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// A token can be refused although it was fetched for the request that
// carries it: it expired between its fetch and its use (a goroutine of a
// loaded machine that waited while others spent its lifetime, a token
// service whose clock runs ahead of the registry's). oras-go's auth client
// fetches a token on a 401 and tries once; the request then failed. It is
// tried once more, with a token fetched afresh.
func TestTokenRefusedOnFirstUseIsFetchedAgain(t *testing.T) {
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", "s3cret")
	var mu sync.Mutex
	stale := "" // the first token presented: refused whenever it comes
	refused := 0
	host := testutil.ProxyWrapped(t, testutil.Registry(t), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			mu.Lock()
			if ok && stale == "" {
				stale = token
			}
			good := ok && token != stale
			if ok && !good {
				refused++
			}
			mu.Unlock()
			if good {
				r.Header.Del("Authorization")
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q,service=%q,scope=%q", tokens.Realm, tokens.Service, "repository:app/one:pull"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}`)
		})
	})
	config := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("mirror:s3cret"))
	if err := os.WriteFile(config, fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: config, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repository(host + "/app/one")
	if err != nil {
		t.Fatal(err)
	}
	// The tag list of a repository that does not exist: any answer but the
	// 401 shows the request went through.
	err = repo.Tags(context.Background(), "", func([]string) error { return nil })
	// (The status, not "401" alone: the registry's port may hold those
	// digits, as 127.0.0.1:34015 did.)
	if err != nil && strings.Contains(err.Error(), "status code 401") {
		t.Fatalf("a request whose fresh token was refused once failed: %v", err)
	}
	// Refused as fetched, then once more from the cache, before the
	// token fetched afresh goes through.
	if refused != 2 {
		t.Errorf("the stale token was refused %d times, want 2", refused)
	}
}
