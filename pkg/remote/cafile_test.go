package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// A --ca-file that cannot be used fails New with one line naming the file
// and saying why. A directory or an unreadable file used to be reported
// as "not found", which sent the operator looking for a file that is there.
func TestCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file    string
		wantErr error
		want    string
	}{
		{filepath.Join(dir, "missing.pem"), errdef.ErrNotFound, "no such file"},
		{dir, errdef.ErrUsage, "is a directory"},
		{garbage, errdef.ErrUsage, "no PEM certificate"},
		// Read whole, unbounded, as --cert-file's and --certs-dir's are not.
		{huge, errdef.ErrUsage, "over the 1048576 bytes"},
	} {
		_, err := remote.New(remote.Options{CAFile: tt.file, ConfigFile: filepath.Join(dir, "config.json")})
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--ca-file %s: err = %v, want %v naming the file and %q", tt.file, err, tt.wantErr, tt.want)
		}
	}
}
