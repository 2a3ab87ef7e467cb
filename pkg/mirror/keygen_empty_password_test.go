package mirror_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeygenWarnsOfAnEmptyPassword: keygen with COSIGN_PASSWORD set but
// empty (a CI secret that is not defined leaves it so) wrote a private key
// that opens with no password, saying nothing: whoever reads the file can
// sign with it. It is still written, as cosign writes it, with a warning
// naming the file (found by review).
func TestKeygenWarnsOfAnEmptyPassword(t *testing.T) {
	for _, pw := range []string{"", "stellaops-dev"} {
		var logs bytes.Buffer
		prefix := filepath.Join(t.TempDir(), "cosign")
		_, err := mirror.Keygen(t.Context(), mirror.KeygenOptions{OutputPrefix: prefix, Password: func() ([]byte, error) { return []byte(pw), nil }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "empty") && strings.Contains(logs.String(), prefix+".key")
		if warned != (pw == "") {
			t.Errorf("keygen with password %q: warned %v; logs:\n%s", pw, warned, logs.String())
		}
	}
}
