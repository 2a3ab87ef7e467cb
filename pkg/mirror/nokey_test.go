package mirror_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestNoKeySignatureReferrers: pull and sync without --key carry the
// envelope they read (pull writes it as manifest.dsse, sync copies it to
// the destination), so with several signature referrers on the root they
// may not pick one by a count anyone who may push to the source repository
// can raise. An envelope with more signatures that does not carry the
// signer's (the attacker's own keys), or that carries it beside a junk
// signature naming the signer's key (which fails the whole envelope for
// that key), is not taken over the signed push's: pull and sync refuse as
// usage (exit 1), naming the root and the referrers, write no directory
// and nothing at the destination. They used to take the envelope with the
// most signatures, so that the far side's import --key failed (exit 5) and
// pull wrote the attacker's manifest.dsse. With --key both take the
// signing that verifies, as before; a bundle signed again and pushed again
// (TestPullAfterResign) is still read without a key, as its last push.
func TestNoKeySignatureReferrers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	manifest := readFile(t, filepath.Join(s.dir, "manifest.json"))
	signed := readFile(t, filepath.Join(s.dir, "manifest.dsse"))

	// The attacker's keys: more signatures than the signed push's.
	forged := forgedEnvelope(t, manifest)
	// The signer's envelope, and a junk signature under the signer's keyid.
	junk, err := dsse.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	junk.Signatures = append(junk.Signatures, dsse.Signature{KeyID: junk.Signatures[0].KeyID, Sig: bytes.Repeat([]byte{7}, 64)})

	later := time.Now().Add(time.Hour)
	for _, reg := range []struct {
		name string
		host func(testing.TB) string
	}{{"referrers API", testutil.Registry}, {"no referrers API", testutil.RegistryNoReferrers}, {"distribution", testutil.Distribution}} {
		for name, env := range map[string]*dsse.Envelope{
			"attacker's keys, more signatures": forged,
			"signer's and a junk signature":    junk,
		} {
			t.Run(reg.name+"/"+name, func(t *testing.T) {
				data, err := env.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				host := reg.host(t)
				client := testutil.Client(t)
				ref := host + "/stellaops/mirror-bundle"
				res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
				if err != nil {
					t.Fatal(err)
				}
				pushed := referrersOf(t, ref, res.Root)
				pushSignatureReferrer(rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}, res.Root, [][]byte{data}, later)
				if got := referrersOf(t, ref, res.Root); len(got) != 3 {
					t.Fatalf("%d referrers after the attacker's, want 3", len(got))
				}
				tagged := ref + ":" + s.rel.Spec.Version

				out := filepath.Join(t.TempDir(), "pulled")
				_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Client: client, Transfer: transferOpts()})
				assertAmbiguous(t, "pull", err, res.Root)
				if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("pull without --key refused, yet %s: %v", out, serr)
				}

				dst := host + "/mirror/bundles"
				before := testutil.Tags(t, host)
				_, err = mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Client: client, Transfer: transferOpts()})
				assertAmbiguous(t, "sync", err, res.Root)
				if after := testutil.Tags(t, host); !reflect.DeepEqual(after, before) {
					t.Errorf("sync without --key refused, yet it wrote: repositories and tags %v, were %v", after, before)
				}

				// With --key: the signed push's, as before.
				out = filepath.Join(t.TempDir(), "pulled")
				if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatalf("pull --key: %v", err)
				}
				if got := readFile(t, filepath.Join(out, "manifest.dsse")); !bytes.Equal(got, signed) {
					t.Error("pull --key wrote another manifest.dsse than the signed push's")
				}
				if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatalf("sync --key: %v", err)
				}
				if got := referrersOf(t, dst, res.Root); !slices.Equal(got, pushed) {
					t.Errorf("sync --key copied referrers %v, want the signed push's %v", got, pushed)
				}
				ins, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: tagged, Trust: trustKeys(s.pub), Client: client})
				if err != nil || !ins.Signed || len(ins.Signers) != 1 {
					t.Errorf("inspect --key: %+v, %v", ins, err)
				}
				// inspect without --key writes nothing and carries nothing:
				// it still says the bundle is signed.
				if ins, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: tagged, Client: client}); err != nil || !ins.Signed {
					t.Errorf("inspect without --key: %+v, %v", ins, err)
				}
			})
		}
	}
}

// assertAmbiguous checks the refusal of a reader without --key facing
// signature referrers of which none can be told to be the one.
func assertAmbiguous(t *testing.T, verb string, err error, root digest.Digest) {
	t.Helper()
	if !errors.Is(err, errdef.ErrUsage) || errors.Is(err, errdef.ErrSignature) || errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("%s without --key: %v, want a usage error (exit 1)", verb, err)
		return
	}
	for _, want := range []string{root.String(), "2 signature referrers", "--key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s without --key: %q does not say %q", verb, err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s without --key: %q is not one line", verb, err)
	}
}

// resum writes a bundle directory's SHA256SUMS again and signs it with
// key, as one who signed its envelope and then changed its side files
// would: signersFiles takes such files.
func resum(t *testing.T, dir, key string) {
	t.Helper()
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := d.WriteChecksums(true)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.LoadSigner(context.Background(), key, testPass)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(context.Background(), sums)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "SHA256SUMS.sig"), base64.StdEncoding.EncodeToString(sig)+"\n")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestNoKeyResignedByAnother: anyone who may push to the source repository
// can also sign the bundle again with a key of their own and push it, as a
// second approver would: their envelope holds the signer's signature and
// theirs, their public-key.pem both keys. Without --key, sync and pull take
// it, since every key that accepts the signer's envelope accepts theirs (a
// signature of a key not trusted is ignored): the far side's import with
// the signer's --key, or --trust-root, still succeeds. Where their files
// leave out the signer's certificate, which --trust-root reads from the
// files that go with the envelope, it is not taken over the signer's:
// sync and pull refuse (exit 1) and write nothing. Both used to take it,
// having more signatures, and the far side's import --trust-root failed.
// So too where their files carry the signer's certificate in
// certificate-chain.pem, which --trust-root reads for intermediates only:
// that was taken, and the far side's import --trust-root failed.
func TestNoKeyResignedByAnother(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	ca := testutil.NewRootCA(t, "StellaOps Root CA")
	signingCA := ca.Intermediate(t, "StellaOps Signing CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	chainPEM := testutil.WritePEM(t, pki, "chain.pem", signingCA.Cert)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", signingCA.Leaf(t, "mirror-signing", signerPub(t, s.priv), testutil.LeafOptions{}))
	sign(t, s.dir, s.priv, func(o *mirror.SignOptions) { o.Certificate, o.CertificateChain = leafPEM, chainPEM })
	byRoot := mirror.TrustOptions{TrustRoots: []string{rootPEM}}

	attacker, _ := testKeys(t, "attacker")
	kept := copyBundle(t, s.dir)
	if res := sign(t, kept, attacker); res.Signatures != 2 {
		t.Fatalf("attacker's sign: %d signatures, want 2", res.Signatures)
	}
	dropped := copyBundle(t, kept)
	for _, name := range []string{"certificate.pem", "certificate-chain.pem"} {
		if err := os.Remove(filepath.Join(dropped, name)); err != nil {
			t.Fatal(err)
		}
	}
	sign(t, dropped, attacker)
	if _, err := os.Stat(filepath.Join(dropped, "certificate.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the attacker's bundle still carries certificate.pem: %v", err)
	}

	// The signer's certificate moved from certificate.pem, the signers'
	// certificates --trust-root reads, to certificate-chain.pem, which it
	// reads only for intermediates: carried still, but no signer's.
	moved := copyBundle(t, kept)
	leaf := readFile(t, filepath.Join(moved, "certificate.pem"))
	writeFile(t, filepath.Join(moved, "certificate-chain.pem"), string(readFile(t, filepath.Join(moved, "certificate-chain.pem")))+string(leaf))
	if err := os.Remove(filepath.Join(moved, "certificate.pem")); err != nil {
		t.Fatal(err)
	}
	resum(t, moved, attacker)

	for _, reg := range []struct {
		name string
		host func(testing.TB) string
	}{{"referrers API", testutil.Registry}, {"no referrers API", testutil.RegistryNoReferrers}} {
		for _, c := range []struct {
			name  string
			dir   string
			taken bool
		}{{"signer's certificate kept", kept, true}, {"signer's certificate left out", dropped, false}, {"signer's certificate moved to the chain", moved, false}} {
			t.Run(reg.name+"/"+c.name, func(t *testing.T) {
				host := reg.host(t)
				client := testutil.Client(t)
				ref, res := pushSignerThenAttacker(t, host, s.dir, c.dir, byRoot)
				tagged := ref + ":" + s.rel.Spec.Version
				dst := host + "/mirror/bundles"
				out := filepath.Join(t.TempDir(), "pulled")
				if !c.taken {
					before := testutil.Tags(t, host)
					_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Client: client, Transfer: transferOpts()})
					assertAmbiguous(t, "sync", err, res.Root)
					if after := testutil.Tags(t, host); !reflect.DeepEqual(after, before) {
						t.Errorf("sync without --key refused, yet it wrote: repositories and tags %v, were %v", after, before)
					}
					_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Client: client, Transfer: transferOpts()})
					assertAmbiguous(t, "pull", err, res.Root)
					if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
						t.Errorf("pull without --key refused, yet %s: %v", out, serr)
					}
					return
				}
				if _, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatalf("sync without --key: %v", err)
				}
				for name, trust := range map[string]mirror.TrustOptions{"--key": trustKeys(s.pub), "--trust-root": byRoot} {
					opts := importOpts(t, dst+":"+s.rel.Spec.Version, testutil.Registry(t), s.pub)
					opts.Trust = trust
					if _, err := mirror.Import(ctx, opts); err != nil {
						t.Errorf("far side's import %s of what sync copied: %v", name, err)
					}
				}
				if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Client: client, Transfer: transferOpts()}); err != nil {
					t.Fatalf("pull without --key: %v", err)
				}
				assertSameTree(t, c.dir, out)
				if _, err := verify(out, byRoot); err != nil {
					t.Errorf("verify --trust-root of the pulled bundle: %v", err)
				}
			})
		}
	}
}

// TestNoKeyResignedJunkChain: the signer's certificate is issued by the
// root itself, so the signer's files carry no certificate-chain.pem. One
// who signs again may add one that does not parse: --trust-root reads it
// for intermediates, and a file it cannot read fails the import. Such an
// envelope, which holds every signature and certificate of the signer's,
// used to be taken by pull and sync without --key, and the far side's
// import --trust-root failed; they now refuse it (exit 1).
func TestNoKeyResignedJunkChain(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	ca := testutil.NewRootCA(t, "StellaOps Root CA")
	pki := t.TempDir()
	rootPEM := testutil.WritePEM(t, pki, "root.pem", ca.Cert)
	leafPEM := testutil.WritePEM(t, pki, "leaf.pem", ca.Leaf(t, "mirror-signing", signerPub(t, s.priv), testutil.LeafOptions{}))
	sign(t, s.dir, s.priv, func(o *mirror.SignOptions) { o.Certificate = leafPEM })
	byRoot := mirror.TrustOptions{TrustRoots: []string{rootPEM}}
	attacker, _ := testKeys(t, "attacker")
	junk := copyBundle(t, s.dir)
	sign(t, junk, attacker)
	writeFile(t, filepath.Join(junk, "certificate-chain.pem"), "-----BEGIN NOT A CERTIFICATE-----\nAAAA\n-----END NOT A CERTIFICATE-----\n")
	resum(t, junk, attacker)

	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref, res := pushSignerThenAttacker(t, host, s.dir, junk, byRoot)
	tagged := ref + ":" + s.rel.Spec.Version
	dst := host + "/mirror/bundles"
	_, err := mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: tagged, Destination: dst, Client: client, Transfer: transferOpts()})
	if err == nil {
		opts := importOpts(t, dst+":"+s.rel.Spec.Version, testutil.Registry(t), s.pub)
		opts.Trust = byRoot
		_, ierr := mirror.Import(ctx, opts)
		t.Errorf("sync without --key took an envelope; the far side's import --trust-root of it: %v", ierr)
	}
	assertAmbiguous(t, "sync", err, res.Root)
	out := filepath.Join(t.TempDir(), "pulled")
	_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Client: client, Transfer: transferOpts()})
	assertAmbiguous(t, "pull", err, res.Root)
}

// pushSignerThenAttacker pushes the signer's bundle (verified with trust)
// and then an attacker's copy of it to host's bundle repository, as anyone
// who may push there could: the root gets a second signing. It returns the
// repository and what the signer's push did.
func pushSignerThenAttacker(t *testing.T, host, signer, attacker string, trust mirror.TrustOptions) (string, *mirror.PlaceResult) {
	t.Helper()
	ctx, client := context.Background(), testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	res, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: signer, Reference: ref, Trust: trust, Client: client, Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: attacker, Reference: ref, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("the attacker's push: %v", err)
	}
	return ref, res
}
