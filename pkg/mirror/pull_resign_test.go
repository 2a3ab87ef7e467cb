package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPullAfterResign: a bundle pushed, signed again (a second signature,
// two-person approval) and pushed again has two signature referrers and two
// files referrers on its root, since push never deletes. Every reader reads
// it as the second push left it, whatever order the registry lists the
// referrers in (the in-process registry lists them in random order, hence
// the rounds; distribution through the fallback tag): pull gives back the
// directory the second sign wrote, file for file, trusting the second key
// or both (trusting the first alone, the first push's, whose
// SHA256SUMS.sig that key made); inspect REF counts the trusted signers of the second
// envelope; sync copies that signing alone. They used to take manifest.dsse
// from the last listed referrer and the signature referrer from the first,
// and refused the bundle ("does not carry manifest.dsse").
func TestPullAfterResign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	resigned := copyBundle(t, s.dir)
	priv2, pub2 := testKeys(t, "second")
	second := sign(t, resigned, priv2)
	if second.Signatures != 2 || second.Bundle == nil {
		t.Fatalf("second sign: %+v", second)
	}
	both := mirror.TrustOptions{Keys: []string{s.pub, pub2}, Threshold: 2}
	trusts := []struct {
		name    string
		trust   mirror.TrustOptions
		signers int
		want    string
	}{{"first key", trustKeys(s.pub), 1, s.dir}, {"second key", trustKeys(pub2), 1, resigned}, {"both keys, threshold 2", both, 2, resigned}}
	for _, reg := range []struct {
		name   string
		host   func(testing.TB) string
		rounds int
	}{{"referrers API", testutil.Registry, 4}, {"distribution", testutil.Distribution, 1}} {
		t.Run(reg.name, func(t *testing.T) {
			host := reg.host(t)
			client := testutil.Client(t)
			ref := host + "/stellaops/mirror-bundle"
			tagged := ref + ":" + s.rel.Spec.Version
			for _, p := range []struct {
				dir   string
				trust mirror.TrustOptions
			}{{s.dir, trustKeys(s.pub)}, {resigned, both}} {
				if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: p.dir, Reference: ref, Trust: p.trust, Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatal(err)
				}
			}
			repo, _ := client.Repository(ref)
			root, err := repo.Resolve(ctx, s.rel.Spec.Version)
			if err != nil {
				t.Fatal(err)
			}
			if refs, err := registry.Referrers(ctx, repo, root, ""); err != nil || len(refs) != 4 {
				t.Fatalf("%d referrers of the root after two pushes (%v), want 4: two signatures, two files", len(refs), err)
			}

			for round := range reg.rounds {
				for _, tr := range trusts {
					out := filepath.Join(t.TempDir(), "pulled")
					res, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: tr.trust, Client: client, Transfer: transferOpts()})
					if err != nil {
						t.Fatalf("round %d, pull trusting the %s: %v", round, tr.name, err)
					}
					if !res.Verified || res.Root != root.Digest {
						t.Errorf("round %d, pull trusting the %s: %+v", round, tr.name, res)
					}
					assertSameTree(t, tr.want, out)

					ins, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: tagged, Trust: tr.trust, Client: client})
					if err != nil {
						t.Fatalf("round %d, inspect trusting the %s: %v", round, tr.name, err)
					}
					if !ins.Signed || len(ins.Signers) != tr.signers {
						t.Errorf("round %d, inspect trusting the %s: signed %v, %d signers, want %d", round, tr.name, ins.Signed, len(ins.Signers), tr.signers)
					}
				}
				// Without trust, the envelope with the most signatures.
				out := filepath.Join(t.TempDir(), "pulled")
				if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatalf("round %d, pull without trust: %v", round, err)
				}
				assertSameTree(t, resigned, out)
			}

			// A pulled copy is the whole signed bundle again.
			out := filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: both, Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatal(err)
			}
			if _, err := verify(out, both); err != nil {
				t.Errorf("verify of the pulled bundle with both keys: %v", err)
			}
			if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out, Trust: trustKeys(pub2)}); err != nil {
				t.Errorf("verify-checksums of the pulled bundle: %v", err)
			}

			// Fail-closed still: a key that signed neither push.
			_, other := testKeys(t, "other")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: filepath.Join(t.TempDir(), "pulled"), Trust: trustKeys(other), Client: client, Transfer: transferOpts()}); !errors.Is(err, errdef.ErrSignature) {
				t.Errorf("pull trusting another key: %v, want a signature error", err)
			}

			// sync, trusting the second key only, copies the second signing
			// (the only one that verifies) and nothing of the first.
			// Trusting the first key only, it takes the first: the second
			// verifies too, with more signatures, but its SHA256SUMS.sig is
			// by a key not trusted, as one who signs it again to attach
			// files of their own leaves it (TestKeyedPrefersTrustedSigning).
			dst := host + "/mirror/bundles"
			if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Trust: trustKeys(pub2), Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatal(err)
			}
			dstRepo, _ := client.Repository(dst)
			refs, err := registry.Referrers(ctx, dstRepo, root, "")
			if err != nil || len(refs) != 2 {
				t.Fatalf("%d referrers of the synced root (%v), want 2", len(refs), err)
			}
			for _, r := range refs {
				if r.ArtifactType == bundle.ArtifactTypeDSSE && r.Digest != second.Bundle.Referrer.Digest {
					t.Errorf("sync copied signature referrer %s, not the second sign's", r.Digest)
				}
			}
			out = filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: dst + ":" + s.rel.Spec.Version, Output: out, Trust: both, Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatal(err)
			}
			assertSameTree(t, resigned, out)

			// Without trust too: the second envelope holds the first's
			// signature, and the second key's verifies with the key its
			// public-key.pem carries, so sync copies that signing alone
			// (TestNoKeySignatureReferrers), and the far side's key takes it.
			unkeyed := host + "/mirror/unkeyed"
			if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: unkeyed, Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatalf("sync without trust: %v", err)
			}
			unkeyedRepo, _ := client.Repository(unkeyed)
			refs, err = registry.Referrers(ctx, unkeyedRepo, root, "")
			if err != nil || len(refs) != 2 {
				t.Fatalf("%d referrers of the root synced without trust (%v), want 2", len(refs), err)
			}
			for _, r := range refs {
				if r.ArtifactType == bundle.ArtifactTypeDSSE && r.Digest != second.Bundle.Referrer.Digest {
					t.Errorf("sync without trust copied signature referrer %s, not the second sign's", r.Digest)
				}
			}
			out = filepath.Join(t.TempDir(), "pulled")
			if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: unkeyed + ":" + s.rel.Spec.Version, Output: out, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
				t.Fatal(err)
			}
			assertSameTree(t, resigned, out)
		})
	}
}
