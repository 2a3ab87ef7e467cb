package remote_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A registry's 5xx that names a fault of its own storage (the
// distribution registry's filesystem driver passes the system error on)
// was retried like any 5xx, and told as the registry's bare words. Now it
// is not retried, and says what is at fault and what to do; a 405
// UNSUPPORTED to a push (a pull-through cache) says the registry takes
// none. A bare 500 stays a fault of the moment, retried.
func TestClassifyStorageFaults(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "registry.internal:5000", Path: "/v2/stellaops/authority/blobs/uploads/"}
	answer := func(method string, status int, code, detail string) error {
		e := &errcode.ErrorResponse{Method: method, URL: u, StatusCode: status}
		if code != "" {
			e.Errors = errcode.Errors{{Code: code, Message: strings.ToLower(code) + " error", Detail: detail}}
		}
		return e
	}
	for _, tt := range []struct {
		name      string
		err       error
		transient bool
		want      string
	}{
		{"full", answer(http.MethodPost, 500, "UNKNOWN", "filesystem: write /var/lib/registry/docker/registry/v2/repositories/stellaops/authority/_uploads/x/startedat: no space left on device"), false,
			"(registry registry.internal:5000: its storage is full: free space on it, then run the command again, which sends only what is missing)"},
		{"quota", answer(http.MethodPatch, 500, "UNKNOWN", "write /data/x: disk quota exceeded"), false, "its storage quota is used up"},
		{"read-only storage", answer(http.MethodPost, 500, "UNKNOWN", "mkdir /data/x: read-only file system"), false, "its storage is mounted read-only"},
		{"permission", answer(http.MethodPost, 500, "UNKNOWN", "filesystem: mkdir /data/docker/registry/v2/repositories/stellaops/authority/_uploads: permission denied"), false,
			"it may not write its storage there"},
		{"507", answer(http.MethodPut, http.StatusInsufficientStorage, "", ""), false, "its storage is full"},
		{"bare 500", answer(http.MethodPost, 500, "", ""), true, "response status code 500"},
		{"pull-through cache", answer(http.MethodPost, 405, "UNSUPPORTED", ""), false,
			"(registry registry.internal:5000 takes no push: a pull-through cache (proxy.remoteurl) or a registry in read-only mode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := remote.IsTransient(tt.err); got != tt.transient {
				t.Errorf("IsTransient = %v, want %v", got, tt.transient)
			}
			err := remote.Classify(tt.err)
			if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Classify: %v (unavailable: %v), want one line with %q", err, errors.Is(err, errdef.ErrUnavailable), tt.want)
			}
		})
	}
}
