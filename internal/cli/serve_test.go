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
	"github.com/stellaops/mirror/pkg/mirror"
)

// run runs stella with args and the given verifier, as Execute does.
func run(ctx context.Context, verifier mirror.SignatureVerifier, stdout io.Writer, args ...string) (int, string) {
	var stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: stdout, stderr: &stderr, verifier: verifier}
	root := NewRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		a.reportError(err)
	}
	return ExitCode(err), stderr.String()
}

func TestServeCommandRefuses(t *testing.T) {
	f := testutil.Bundle(t, sample.Spec{})
	zst := filepath.Join(t.TempDir(), "b.tar.zst")
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: f.Dir, Output: zst}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		verifier mirror.SignatureVerifier
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"no signature verification", nil, []string{f.Tar}, ExitSignature, "never served"},
		{"compressed tar", testutil.FakeVerifier(), []string{zst}, ExitInput, "stella mirror pack DIR --output FILE.tar"},
		{"certificate without key", testutil.FakeVerifier(), []string{f.Dir, "--tls-cert", "c.pem"}, ExitInput, "both a certificate and a key"},
		{"no such bundle", testutil.FakeVerifier(), []string{filepath.Join(t.TempDir(), "nope.tar")}, ExitInput, "nope.tar"},
		{"bad address", testutil.FakeVerifier(), []string{f.Dir, "--addr", "256.0.0.1:99999"}, ExitInput, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			args := append([]string{"mirror", "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			code, stderr := run(context.Background(), tt.verifier, &stdout, args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantMsg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantMsg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

// TestServeCommandServesUntilCancelled runs serve on a free port, reads the
// address from its JSON result, pulls, and cancels: a clean shutdown exits 0.
func TestServeCommandServesUntilCancelled(t *testing.T) {
	f := testutil.Bundle(t, sample.Spec{})
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
		code, stderr := run(ctx, testutil.FakeVerifier(), pw, "mirror", "serve", f.Tar, "--addr", "127.0.0.1:0",
			"--repo-prefix", "airgap", "--format", "json")
		pw.Close()
		done <- result{code, stderr}
	}()
	var info mirror.ServeInfo
	select {
	case info = <-infos:
	case r := <-done:
		t.Fatalf("serve exited %d before it was ready: %s", r.code, r.stderr)
	case <-time.After(time.Minute):
		t.Fatal("serve did not become ready")
	}
	img := f.Release.Images[0]
	resp, err := http.Get(info.URL + "/v2/airgap/" + img.Repository + "/manifests/" + img.Descriptor.Digest.String())
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
