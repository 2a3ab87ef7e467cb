package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestServeAddrCheckedFirst: an --addr that is no HOST:PORT (localhost,
// without its port; a port past 65535; a flag taken as its value) was
// found out only when serve came to listen, after the bundle was opened
// and every blob of it hashed (minutes for a bundle of some GiB), and
// named as "listen on localhost: … missing port in address", not as
// --addr. It is refused first, naming --addr and the value; the bundle is
// not read (here it does not exist).
func TestServeAddrCheckedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.tar")
	for _, addr := range []string{"localhost", "127.0.0.1", ":99999", "127.0.0.1:-1", "--key", "[::1]"} {
		err := mirror.Serve(context.Background(), mirror.ServeOptions{Path: missing, Trust: trustKeys("k.pub"), Addr: addr})
		want := `--addr "` + addr + `": want HOST:PORT`
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("--addr %q: err = %v, want ErrUsage and %q", addr, err, want)
		}
	}
}

// TestServeAddrWithCredentials: an --addr with credentials before its host
// (USER:PASSWORD@HOST:PORT, a registry's address pasted with them, or
// TOKEN@HOST) was refused as no HOST:PORT, echoing it whole, the password
// with it, twice: in the refusal and in net's "address …" after it. It is
// refused with them blanked (found by review).
func TestServeAddrWithCredentials(t *testing.T) {
	const secret = "hunter2-never-shown"
	missing := filepath.Join(t.TempDir(), "missing.tar")
	for _, addr := range []string{"user:" + secret + "@127.0.0.1:5000", "user:" + secret + "@127.0.0.1", secret + "@localhost"} {
		err := mirror.Serve(context.Background(), mirror.ServeOptions{Path: missing, Trust: trustKeys("k.pub"), Addr: addr})
		if !errors.Is(err, errdef.ErrUsage) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "--addr") {
			t.Errorf("--addr with credentials: err = %v, want ErrUsage naming --addr, without the password", err)
		}
	}
}
