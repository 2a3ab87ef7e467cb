package mirror_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// countedRegistry is an in-process registry that counts the requests sent
// to it by method and path.
type countedRegistry struct {
	host string

	mu    sync.Mutex
	asked map[string]int // method + " " + path
}

func newCountedRegistry(t *testing.T) *countedRegistry {
	c := &countedRegistry{asked: map[string]int{}}
	c.host = testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.asked[r.Method+" "+r.URL.Path]++
			c.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	})
	return c
}

// count says how many method requests of path were sent since the last reset.
func (c *countedRegistry) count(method, path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asked[method+" "+path]
}

// total says how many requests were sent since the last reset.
func (c *countedRegistry) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.asked {
		n += k
	}
	return n
}

func (c *countedRegistry) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.asked)
}
