package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// What a retry can mend is the network's doing; a local file's error (a
// full disk on the media being written) is not, and fails at once: it used
// to pass for a network error (every errno is a net.Error) and be retried
// for seconds.
func TestIsTransient(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	timeout := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{reset, true},
		{refused, true},
		{timeout, true},
		{fmt.Errorf("blob: %w", io.ErrUnexpectedEOF), true},
		{&remote.StallError{Host: "127.0.0.1:5000"}, true},
		{&os.PathError{Op: "write", Path: "bundle/.tmp-1", Err: syscall.ENOSPC}, false},
		{fmt.Errorf("blob: %w", &os.PathError{Op: "write", Path: "b.tar", Err: os.NewSyscallError("copy_file_range", syscall.EFBIG)}), false},
		{&os.PathError{Op: "open", Path: "bundle", Err: syscall.EACCES}, false},
		{syscall.EIO, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
		// Credentials kept back (plainCredentials) are kept back again.
		{&url.Error{Op: "Post", URL: "http://127.0.0.1:5001/token", Err: &remote.PlainCredentialsError{Registry: "127.0.0.1:5000", Host: "127.0.0.1:5001"}}, false},
	} {
		if got := remote.IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestClassifySchemeMismatch: a registry without TLS, met without
// --plain-http, failed with net/http's own words ("server gave HTTP
// response to HTTPS client"); doctor named the flag, import did not.
func TestClassifySchemeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, "https://"+srv.Listener.Addr().String()+"/v2/", nil)
	_, err := (&http.Client{}).Do(req)
	if err == nil {
		t.Fatal("an HTTPS request to a plain HTTP server succeeded")
	}
	got := remote.Classify(err)
	if !errors.Is(got, errdef.ErrUnavailable) || !strings.Contains(got.Error(), "--plain-http") {
		t.Fatalf("Classify(%v) = %v, want ErrUnavailable naming --plain-http", err, got)
	}
}

// TestClassifyPlainHTTPToTLS: --plain-http against a registry with TLS
// failed import, push, sync and login with "response status code 400:
// Bad Request" and nothing more; doctor alone said to drop the flag. A 400
// that carries an OCI error is the registry's answer and gets no hint.
func TestClassifyPlainHTTPToTLS(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	oci := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}`)
	}))
	defer oci.Close()
	client, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		host     string
		wantHint bool
	}{
		{"TLS port", tlsSrv.Listener.Addr().String(), true},
		{"OCI error", oci.Listener.Addr().String(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := client.Repository(tt.host + "/stellaops/mirror-bundle")
			if err != nil {
				t.Fatal(err)
			}
			err = repo.Tags(context.Background(), "", func([]string) error { return nil })
			if err == nil {
				t.Fatal("listing tags succeeded")
			}
			got := remote.Classify(err)
			hinted := strings.Contains(got.Error(), "drop --plain-http")
			if hinted != tt.wantHint || hinted != errors.Is(got, errdef.ErrUnavailable) || strings.Contains(got.Error(), "\n") {
				t.Errorf("Classify(%v) = %v; want the hint and ErrUnavailable: %v", err, got, tt.wantHint)
			}
		})
	}
}
