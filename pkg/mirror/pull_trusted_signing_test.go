package mirror_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeyedPrefersTrustedSigning: anyone who may push to the source
// repository can sign the bundle again with a key of their own and push
// it: their envelope holds the signer's signature and theirs, their
// SHA256SUMS.sig is theirs. With the signer's --key, pull and sync took it
// (it verifies, and has more signatures), so the pulled SHA256SUMS.sig
// and public-key.pem were the attacker's and verify-checksums --key failed
// (exit 5). They now count only trusted signatures and prefer the signing
// whose side files a trusted signer signed: the signer's push.
func TestKeyedPrefersTrustedSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	attacker, _ := testKeys(t, "attacker")
	theirs := copyBundle(t, s.dir)
	if res := sign(t, theirs, attacker); res.Signatures != 2 {
		t.Fatalf("attacker's sign: %d signatures, want 2", res.Signatures)
	}
	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	pushed := referrersOf(t, ref, res.Root)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: theirs, Reference: ref, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("the attacker's push: %v", err)
	}
	tagged := ref + ":" + s.rel.Spec.Version

	out := filepath.Join(t.TempDir(), "pulled")
	if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("pull --key: %v", err)
	}
	for _, name := range []string{"manifest.dsse", "SHA256SUMS.sig", "public-key.pem"} {
		if !bytes.Equal(readFile(t, filepath.Join(out, name)), readFile(t, filepath.Join(s.dir, name))) {
			t.Errorf("pull --key wrote the attacker's %s, not the signer's", name)
		}
	}
	if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out, Trust: trustKeys(s.pub)}); err != nil {
		t.Errorf("verify-checksums --key of the pulled bundle: %v", err)
	}

	dst := host + "/mirror/bundles"
	if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("sync --key: %v", err)
	}
	if got := referrersOf(t, dst, res.Root); !slices.Equal(got, pushed) {
		t.Errorf("sync --key copied referrers %v, want the signer's push's %v", got, pushed)
	}
}
