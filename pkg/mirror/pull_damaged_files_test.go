package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestKeyedPrefersTrustedSigningDamagedKeyFile: the signer's push whose
// public-key.pem has a PEM block damaged past the signer's own key (its
// first block, the key of SHA256SUMS.sig), beside a signing anyone who may
// push attached (the signer's envelope signed again, with files of their
// own). The damaged block dropped every key of the file, so the signer's
// files were not taken for the signer's and the signing lost the
// preference of TestKeyedPrefersTrustedSigning: pull --key wrote the
// other party's SHA256SUMS.sig and public-key.pem. A key of the file is
// matched by its keyid, the key's digest, so the blocks that decode are
// read: the signer's signing and files are taken, and its files, which
// verify, push and pack of the directory would refuse for the damaged
// block, left behind and said so (TestPullLeavesDamagedKeyFileBehind);
// none of the other party's is written.
func TestKeyedPrefersTrustedSigningDamagedKeyFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	attacker, _ := testKeys(t, "attacker")
	theirs := copyBundle(t, s.dir)
	sign(t, theirs, attacker)

	// The signer's files: a damaged block after the signer's key, in the
	// SHA256SUMS the signer signed.
	damaged := copyBundle(t, s.dir)
	addDamagedKeyBlock(t, damaged)
	resum(t, damaged, s.priv)

	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	// Push carries no damaged public-key.pem: the signature alone, from a
	// copy whose side files are not the signer's, then the files by hand.
	pushWithFilesOf(t, s, host, damaged)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: theirs, Reference: ref, Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("the attacker's push: %v", err)
	}
	tagged := ref + ":" + s.rel.Spec.Version

	out := filepath.Join(t.TempDir(), "pulled")
	pulled, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
	if err != nil {
		t.Fatalf("pull --key: %v", err)
	}
	if left := pulled.FilesNotCarried; left == nil || !strings.Contains(left.Reason, "public-key.pem: PEM block 2 does not decode") {
		t.Errorf("pull --key: files not carried %+v; want the signer's, for public-key.pem: PEM block 2 does not decode", left)
	}
	if !bytes.Equal(readFile(t, filepath.Join(out, "manifest.dsse")), readFile(t, filepath.Join(damaged, "manifest.dsse"))) {
		t.Error("pull --key wrote the attacker's manifest.dsse, not the signer's")
	}
	for _, name := range []string{"SHA256SUMS.sig", "public-key.pem"} {
		if _, err := os.Stat(filepath.Join(out, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pull --key wrote %s (%v): the attacker's, or the signer's damaged one", name, err)
		}
	}
	if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out}); err != nil {
		t.Errorf("verify-checksums of the pulled bundle: %v", err)
	}
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: out, Output: filepath.Join(t.TempDir(), "b.tar")}); err != nil {
		t.Errorf("pack of the pulled bundle: %v", err)
	}
}

// TestCoSignBesideDamagedExtraKeyBlock: a damaged block of public-key.pem
// that is no signer's, the signers' keys whole beside it, still stops a
// co-signing (exit 11): sign writes the file again from the keys it
// reads, and carried keys are read block by block, the damaged one passed
// over, so it would have dropped what the block held without a word.
func TestCoSignBesideDamagedExtraKeyBlock(t *testing.T) {
	dir := newBundle(t)
	engineer, _ := testKeys(t, "engineer")
	authority, _ := testKeys(t, "authority")
	sign(t, dir, engineer)
	pubPath := addDamagedKeyBlock(t, dir)
	before := readTree(t, dir)
	_, err := mirror.Sign(context.Background(), mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
		Key: authority, Password: testPass, Created: fixedTime,
	})
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), pubPath) || !strings.Contains(err.Error(), "PEM block 2") {
		t.Fatalf("co-signing beside a damaged block of public-key.pem: %v; want exit 11 naming %s and its PEM block 2", err, pubPath)
	}
	if after := readTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("a refused co-signing changed the bundle")
	}
}

// TestFilesNotCarriedNamesDamagedKeyFile: a bundle whose public-key.pem
// has the signer's own block damaged, in the SHA256SUMS the signer signed,
// is imported without its side files, as no key it carries verifies
// SHA256SUMS.sig. The reason named only the signature ("SHA256SUMS.sig
// does not verify SHA256SUMS with a key that signed the envelope"), as of
// side files someone substituted; it names the damaged block now.
func TestFilesNotCarriedNamesDamagedKeyFile(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	damaged := copyBundle(t, s.dir)
	pubPath := filepath.Join(damaged, "public-key.pem")
	pem := string(readFile(t, pubPath))
	writeFile(t, pubPath, pem[:strings.LastIndex(pem, "-----END ")])
	resum(t, damaged, s.priv)
	res, err := mirror.Import(context.Background(), importOpts(t, damaged, testutil.Registry(t), s.pub))
	if err != nil {
		t.Fatal(err)
	}
	assertFilesNotCarried(t, res, "public-key.pem: PEM block 1 does not decode")
}

// TestFilesNotCarriedDamagedExtraKeyBlock: a bundle directory whose
// public-key.pem has a damaged block past the signer's key, in the
// SHA256SUMS the signer signed, was imported with the file carried to the
// registry, exit 0, the signer's key verifying SHA256SUMS.sig: the
// damaged block was passed over. verify, push and pack of the same
// directory refuse it (exit 11), and pull wrote it back as a bundle they
// refuse. Import leaves the side files behind naming the damaged block,
// as it does when the signer's own block is the damaged one.
func TestFilesNotCarriedDamagedExtraKeyBlock(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	damaged := copyBundle(t, s.dir)
	addDamagedKeyBlock(t, damaged)
	resum(t, damaged, s.priv)
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(damaged, "manifest.dsse"), Trust: trustKeys(s.pub), Now: testNow}); !errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("verify of the directory: %v; want malformed (exit 11)", err)
	}
	res, err := mirror.Import(ctx, importOpts(t, damaged, testutil.Registry(t), s.pub))
	if err != nil {
		t.Fatal(err)
	}
	assertFilesNotCarried(t, res, "public-key.pem: PEM block 2 does not decode")
}

// TestPullLeavesDamagedKeyFileBehind: a registry whose files referrer (as
// another tool pushed it) holds a public-key.pem with a damaged PEM block
// past the signer's key, in the SHA256SUMS the signer signed: pull writes
// the bundle without its side files and says so (filesNotCarried, naming
// public-key.pem and its block 2), as import REF and sync leave them
// behind, and the directory verifies. Pull wrote the file as it was, so
// that verify of the pulled directory refused it (exit 11), and push and
// pack too (found by review).
func TestPullLeavesDamagedKeyFileBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	damaged := copyBundle(t, s.dir)
	addDamagedKeyBlock(t, damaged)
	resum(t, damaged, s.priv)

	host := testutil.Registry(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	// The signature alone (push leaves side files not the signer's
	// behind), then the damaged files by hand, as another tool pushed them.
	pushWithFilesOf(t, s, host, damaged)
	tagged := ref + ":" + s.rel.Spec.Version

	for name, trust := range map[string]mirror.TrustOptions{"pull": {}, "pull --key": trustKeys(s.pub)} {
		out := filepath.Join(t.TempDir(), "pulled")
		pulled, err := mirror.Pull(ctx, mirror.PullOptions{Reference: tagged, Output: out, Trust: trust, Client: client, Transfer: transferOpts()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		left := pulled.FilesNotCarried
		if want := []string{"public-key.pem", "SHA256SUMS", "SHA256SUMS.sig"}; left == nil || !reflect.DeepEqual(left.Files, want) ||
			!strings.Contains(left.Reason, "public-key.pem: PEM block 2 does not decode") {
			t.Errorf("%s: files not carried %+v; want %q, for public-key.pem: PEM block 2 does not decode", name, left, want)
		}
		for _, f := range []string{"public-key.pem", "SHA256SUMS.sig"} {
			if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s wrote %s (%v)", name, f, err)
			}
		}
		if !bytes.Equal(readFile(t, filepath.Join(out, "manifest.dsse")), readFile(t, filepath.Join(s.dir, "manifest.dsse"))) {
			t.Errorf("%s: manifest.dsse is not the signer's", name)
		}
		if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: filepath.Join(out, "manifest.dsse"), Trust: trustKeys(s.pub), Now: testNow}); err != nil {
			t.Errorf("verify --key of the bundle %s wrote: %v", name, err)
		}
		if _, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: out}); err != nil {
			t.Errorf("verify-checksums of the bundle %s wrote: %v", name, err)
		}
	}
}

// addDamagedKeyBlock appends to dir's public-key.pem another key's block
// cut short before its END line, past the keys it holds, and returns the
// file's path.
func addDamagedKeyBlock(t *testing.T, dir string) string {
	t.Helper()
	_, otherPub := testKeys(t, "other")
	other := string(readFile(t, otherPub))
	pubPath := filepath.Join(dir, "public-key.pem")
	writeFile(t, pubPath, string(readFile(t, pubPath))+other[:strings.LastIndex(other, "-----END ")])
	return pubPath
}

// pushWithFilesOf pushes s's bundle to host's stellaops/mirror-bundle with
// its signature alone (push leaves side files not the signer's behind),
// then attaches the side files of files by hand, as another tool pushes
// them.
func pushWithFilesOf(t *testing.T, s *signedSample, host, files string) {
	t.Helper()
	res, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: substitutedSideFiles(t, s.dir), Reference: host + "/stellaops/mirror-bundle",
		Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	attachFilesReferrer(t, rawRepo{t: t, host: host, name: "stellaops/mirror-bundle"}, res.Root, files)
}
