package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A threshold that the keys given can never meet is the operator's
// mistake, not a bad signature: it is refused as usage (exit 1), saying how
// many distinct keys were given, before any signature is weighed. A key
// given twice, or as a file and as env:// alike, is one key. With
// --trust-root the signers come from the bundle's certificates, so a
// threshold above the keys given is weighed against the bundle (exit 5).
func TestThresholdAboveTrustedKeys(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "a")
	sign(t, dir, priv)
	pem, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STELLA_TEST_TRUSTED_KEY", string(pem))
	root := testutil.WritePEM(t, t.TempDir(), "root.pem", testutil.NewRootCA(t, "Root").Cert)
	tests := []struct {
		name    string
		trust   mirror.TrustOptions
		wantErr error
		wantMsg string
	}{
		{"one key, threshold 2", mirror.TrustOptions{Keys: []string{pub}, Threshold: 2}, errdef.ErrUsage, "--threshold 2 exceeds the 1 distinct trusted key"},
		{"one key given twice", mirror.TrustOptions{Keys: []string{pub, pub}, Threshold: 2}, errdef.ErrUsage, "--threshold 2 exceeds the 1 distinct trusted key"},
		{"one key as file and env://", mirror.TrustOptions{Keys: []string{pub, "env://STELLA_TEST_TRUSTED_KEY"}, Threshold: 2}, errdef.ErrUsage, "--threshold 2 exceeds the 1 distinct trusted key"},
		{"negative threshold", mirror.TrustOptions{Keys: []string{pub}, Threshold: -1}, errdef.ErrUsage, "--threshold -1"},
		{"with a trust root, the bundle decides", mirror.TrustOptions{Keys: []string{pub}, TrustRoots: []string{root}, Threshold: 2}, errdef.ErrSignature, ""},
		{"one key, threshold 1", mirror.TrustOptions{Keys: []string{pub, "env://STELLA_TEST_TRUSTED_KEY"}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(dir, tt.trust)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == errdef.ErrUsage && errors.Is(err, errdef.ErrSignature) {
				t.Fatalf("err = %v is also a signature failure (exit 5)", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

// A threshold with nobody trusted is refused: pull, push, sync and inspect
// verify only when trust is given, and used to skip the check the
// threshold asked for, reporting success.
func TestThresholdWithoutTrustIsRefused(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	nobody := mirror.TrustOptions{Threshold: 2}
	for name, run := range map[string]func() error{
		"pull": func() error {
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"), Trust: nobody, Client: client, Transfer: transferOpts()})
			return err
		},
		"inspect": func() error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: s.dir, Trust: nobody})
			return err
		},
		"push": func() error {
			_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/other/bundle", Trust: nobody, Client: client, Transfer: transferOpts()})
			return err
		},
		"sync": func() error {
			_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref + ":" + s.rel.Spec.Version, Destination: host + "/synced/bundle", Trust: nobody, Client: client, Transfer: transferOpts()})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := run()
			if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--threshold 2 needs --key or --trust-root") {
				t.Fatalf("err = %v, want a usage error asking for --key", err)
			}
		})
	}
	if tags := testutil.Tags(t, host); len(tags["other/bundle"])+len(tags["synced/bundle"]) != 0 {
		t.Errorf("tags written: %v", tags)
	}
}
