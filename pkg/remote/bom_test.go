package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestPEMFileByteOrderMarkNamed: a --ca-file, --cert-file or --key-file
// saved as "UTF-8 with BOM" (an editor on Windows), the mark right before
// its first BEGIN line, hides that block from encoding/pem, which finds a
// BEGIN only at a line's start: a CA bundle lost its first CA in silence
// (its registry then "x509: certificate signed by unknown authority"), a
// client certificate file its leaf (the CA after it taken for it, "does
// not match the key"), a key file its key. Each is refused naming the
// file and its mark, as pkg/keys refuses a key or certificate file so
// since f73e728 (found by review).
func TestPEMFileByteOrderMarkNamed(t *testing.T) {
	dir := t.TempDir()
	bom := func(name string) string {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "bom-"+filepath.Base(name))
		if err := os.WriteFile(out, append([]byte("\xEF\xBB\xBF"), data...), 0o600); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, second := testutil.NewRootCA(t, "First CA"), testutil.NewRootCA(t, "Second CA")
	caFile := bom(testutil.WritePEM(t, dir, "cas.pem", first.Cert, second.Cert))
	certFile, keyFile := first.ClientCert(t, dir, "client")
	cfg := filepath.Join(dir, "config.json")
	for _, tt := range []struct {
		file string
		opts remote.Options
	}{
		{caFile, remote.Options{CAFile: caFile}},
		{bom(certFile), remote.Options{CertFile: bom(certFile), KeyFile: keyFile}},
		{bom(keyFile), remote.Options{CertFile: certFile, KeyFile: bom(keyFile)}},
	} {
		tt.opts.ConfigFile = cfg
		_, err := remote.New(tt.opts)
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), tt.file+": starts with a UTF-8 byte order mark") {
			t.Errorf("%s: err = %v, want a usage error naming it and its byte order mark", filepath.Base(tt.file), err)
		}
	}
}
