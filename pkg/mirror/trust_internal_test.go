package mirror

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// verifySignature works on the head of a packed tar: what import and serve
// check before they write anything.
func TestVerifySignatureOnTarHead(t *testing.T) {
	ctx := context.Background()
	work, dir, kg, pass := unsignedBundle(t)
	other, err := Keygen(context.Background(), KeygenOptions{OutputPrefix: filepath.Join(work, "other"), Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	otherPub := other.PublicKey
	archive := filepath.Join(work, "b.tar.zst")
	unsigned := filepath.Join(work, "unsigned.tar")
	if _, err := Pack(ctx, PackOptions{Dir: dir, Output: unsigned}); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ctx, SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"), Key: kg.PrivateKey, Password: pass}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pack(ctx, PackOptions{Dir: dir, Output: archive}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		trust   TrustOptions
		wantErr error
	}{
		{"signed tar", archive, TrustOptions{Keys: []string{kg.PublicKey}}, nil},
		{"signed directory", dir, TrustOptions{Keys: []string{kg.PublicKey}}, nil},
		{"other key", archive, TrustOptions{Keys: []string{otherPub}}, errdef.ErrSignature},
		{"zero trust trusts nobody", archive, TrustOptions{}, errdef.ErrSignature},
		{"unsigned tar", unsigned, TrustOptions{Keys: []string{kg.PublicKey}}, errdef.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, closeSource, err := openMetadata(ctx, tt.path)
			if err == nil {
				defer closeSource()
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := md.verifySignature(ctx, tt.trust)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (len(res.Signers) != 1 || res.Signers[0].KeyID != kg.KeyID) {
				t.Fatalf("signers %+v", res.Signers)
			}
		})
	}
}

// unsignedBundle creates a bundle of the sample release in work/bundle,
// not signed, and a key pair work/k (password pass) to sign it with.
func unsignedBundle(t *testing.T) (work, dir string, kg *KeygenResult, pass func() ([]byte, error)) {
	t.Helper()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	work = t.TempDir()
	dir = filepath.Join(work, "bundle")
	_, err := Create(context.Background(), CreateOptions{ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir,
		Created: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), Client: testutil.Client(t), Producer: bundle.Producer{Name: "t", Version: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	pass = func() ([]byte, error) { return []byte("pw"), nil }
	if kg, err = Keygen(context.Background(), KeygenOptions{OutputPrefix: filepath.Join(work, "k"), Password: pass}); err != nil {
		t.Fatal(err)
	}
	return work, dir, kg, pass
}
