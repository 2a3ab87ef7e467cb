package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestWrongPasswordIsOneClearLine: an import with a wrong password in
// config.json (a password rotated since login) fails as a registry
// refusal, on one line that says what to check, without the access scope
// the distribution registry echoes in its answer's detail, which oras-go
// printed as a Go map ("[map[Action:pull Class: Name:… Type:repository]]"),
// and the login that replaces them.
func TestWrongPasswordIsOneClearLine(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "s3cret")})
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(t, host, "mirror", "rotated-since"), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := importOpts(t, s.dir, host, s.pub)
	opts.Client = client
	_, err = mirror.Import(context.Background(), opts)
	if !errors.Is(err, errdef.ErrUnavailable) {
		t.Fatalf("err = %v, want %v", err, errdef.ErrUnavailable)
	}
	msg := err.Error()
	for _, want := range []string{host + "/stellaops/mirror-bundle", "response status code 401: unauthorized: authentication required (check the credentials for " + host + ": `stella mirror login " + host + " -u USER --password-stdin"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	for _, bad := range []string{"map[", "\n", "rotated-since"} {
		if strings.Contains(msg, bad) {
			t.Errorf("error %q holds %q", msg, bad)
		}
	}
}
