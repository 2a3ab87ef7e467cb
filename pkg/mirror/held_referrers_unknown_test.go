package mirror_test

import (
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestHeldReferrersAnsweredNameUnknown: a registry, or a proxy in front
// of it, that answers the referrers API of the newest held root 404 with
// NAME_UNKNOWN, the repository not there, though its tag and the root
// were just read from it. It was taken for a part of the root missing: the
// root was passed over as not verified, and C (101) was imported over B
// (102), exit 0, a rollback. The answer is the registry's, not the root's:
// the check fails closed (exit 11), naming the root.
func TestHeldReferrersAnsweredNameUnknown(t *testing.T) {
	importOverAnswered(t, false, func(w http.ResponseWriter, r *http.Request, held ocispec.Descriptor) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/referrers/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
		return true
	})
}
