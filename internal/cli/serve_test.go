package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// signedTestBundle creates a bundle of the sample release, created now (so
// it has not expired), signs it with the dev key, and packs it plain. It
// returns the directory, the tar and the public key.
func signedTestBundle(t *testing.T) (dir, tar, pub string) {
	t.Helper()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	dir = filepath.Join(t.TempDir(), "bundle")
	_, err := mirror.Create(context.Background(), mirror.CreateOptions{
		ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir,
		Client: testutil.Client(t), Producer: bundle.Producer{Name: "stella mirror", Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	root := testutil.ModuleRoot(t)
	t.Setenv("COSIGN_PASSWORD", "stellaops-dev")
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", filepath.Join(root, "tools/cosign/cosign.dev.key"),
		"--output", filepath.Join(dir, "manifest.dsse")); code != 0 {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	tar = filepath.Join(t.TempDir(), "bundle.tar")
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: tar}); err != nil {
		t.Fatal(err)
	}
	return dir, tar, filepath.Join(root, "tools/cosign/cosign.pub")
}

func TestServeCommandRefuses(t *testing.T) {
	dir, tar, pub := signedTestBundle(t)
	// Another tool's .tar.gz: no seek table, so it cannot be served.
	gz := testutil.ForeignArchive(t, tar, "b.tar.gz")
	other, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: filepath.Join(t.TempDir(), "other"), Password: func() ([]byte, error) { return []byte("x"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"no trusted key", []string{tar}, ExitInput, "no trusted key"},
		{"another signer's key", []string{tar, "--key", other.PublicKey}, ExitSignature, ""},
		{"compressed tar", []string{gz, "--key", pub}, ExitInput, "stella mirror pack DIR --output FILE.tar"},
		{"certificate without key", []string{dir, "--key", pub, "--tls-cert", "c.pem"}, ExitInput, "both a certificate and a key"},
		{"no such bundle", []string{filepath.Join(t.TempDir(), "nope.tar"), "--key", pub}, ExitInput, "nope.tar"},
		{"bad address", []string{dir, "--key", pub, "--addr", "256.0.0.1:99999"}, ExitInput, `--addr "256.0.0.1:99999": want HOST:PORT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"mirror", "serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantMsg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantMsg)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

// TestServeCommandServesUntilCancelled runs serve on a free port, reads the
// address from its JSON result, pulls, and cancels: a clean shutdown exits 0.
func TestServeCommandServesUntilCancelled(t *testing.T) {
	_, tar, pub := signedTestBundle(t)
	rel := sample.Components[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	infos := make(chan mirror.ServeInfo, 1)
	go func() {
		var info mirror.ServeInfo
		if json.NewDecoder(pr).Decode(&info) == nil {
			infos <- info
		}
		io.Copy(io.Discard, pr)
	}()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		var stderr bytes.Buffer
		code := Execute(ctx, []string{"mirror", "serve", tar, "--key", pub, "--addr", "127.0.0.1:0", "--repo-prefix", "airgap", "--format", "json"},
			strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- result{code, stderr.String()}
	}()
	var info mirror.ServeInfo
	select {
	case info = <-infos:
	case r := <-done:
		t.Fatalf("serve exited %d before it was ready: %s", r.code, r.stderr)
	case <-time.After(time.Minute):
		t.Fatal("serve did not become ready")
	}
	if info.Signature == nil || len(info.Signature.Signers) != 1 {
		t.Errorf("signers %+v", info.Signature)
	}
	resp, err := http.Get(info.URL + "/v2/airgap/" + rel.Repository + "/manifests/" + info.Version)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pull from %s: %s", info.URL, resp.Status)
	}
	cancel()
	r := <-done
	if r.code != ExitOK {
		t.Fatalf("exit %d after a clean shutdown: %s", r.code, r.stderr)
	}
}
