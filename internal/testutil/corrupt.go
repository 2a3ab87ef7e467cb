package testutil

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// CorruptingRegistry is an in-process registry (referrers API) that serves
// one blob with a byte flipped, same length: a source whose bytes do not
// match their digest. Set the victim with Corrupt.
type CorruptingRegistry struct {
	Host   string
	mu     sync.Mutex
	victim digest.Digest
}

// NewCorruptingRegistry starts one; it corrupts nothing until Corrupt.
func NewCorruptingRegistry(t testing.TB) *CorruptingRegistry {
	c := &CorruptingRegistry{}
	c.Host = RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			victim := c.victim
			c.mu.Unlock()
			if victim == "" || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+victim.String()) {
				h.ServeHTTP(w, r)
				return
			}
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if len(rec.body) > 0 {
				rec.body[len(rec.body)/2] ^= 1
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			if rec.code == 0 {
				rec.code = http.StatusOK
			}
			w.WriteHeader(rec.code)
			_, _ = w.Write(rec.body)
		})
	})
	return c
}

// Corrupt makes the registry flip a byte of blob dg from now on.
func (c *CorruptingRegistry) Corrupt(dg digest.Digest) {
	c.mu.Lock()
	c.victim = dg
	c.mu.Unlock()
}

// recorder keeps a whole answer in memory.
type recorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *recorder) Header() http.Header  { return r.header }
func (r *recorder) WriteHeader(code int) { r.code = code }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}
