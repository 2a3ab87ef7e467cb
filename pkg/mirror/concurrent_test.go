package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// signalHandler is a slog handler that closes a channel at the first record
// whose message is msg: a test's gate on "this run is now waiting".
type signalHandler struct {
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func newSignal(msg string) (*slog.Logger, <-chan struct{}) {
	h := signalHandler{msg: msg, once: new(sync.Once), ch: make(chan struct{})}
	return slog.New(h), h.ch
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// checkKeyPair fails unless PREFIX.pub is the public key of PREFIX.key.
func checkKeyPair(t *testing.T, prefix string) {
	t.Helper()
	signer, err := keys.LoadSigner(context.Background(), prefix+".key", testPass)
	if err != nil {
		t.Fatal(err)
	}
	want, err := signer.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(prefix + ".pub"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s.pub is not the public key of %s.key (%v)", prefix, prefix, err)
	}
}

// TestKeygenWaitsForAnotherWriter: two `keygen --force` at once renamed
// their public keys, then their private keys, each over the other's, so
// cosign.key could end up beside the other run's cosign.pub (signatures
// that no published key verifies). The pair is now placed under the
// directory's writers' lock: here the test holds it, as a run between its
// two renames would, and keygen waits for it, then places its pair whole.
func TestKeygenWaitsForAnotherWriter(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "cosign")
	if _, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(prefix + ".key")
	oldPub, _ := os.ReadFile(prefix + ".pub")
	unlock, err := layout.LockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	log, waiting := newSignal("waiting for another stella process writing there")
	type result struct {
		res *mirror.KeygenResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: prefix, Password: testPass, Force: true, Logger: log})
		done <- result{res, err}
	}()
	select {
	case <-waiting:
	case r := <-done:
		unlock()
		t.Fatalf("keygen wrote its pair while another process was writing one (err %v)", r.err)
	}
	if key, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(key, oldKey) {
		t.Error("cosign.key replaced while another process held the directory")
	}
	if pub, _ := os.ReadFile(prefix + ".pub"); !bytes.Equal(pub, oldPub) {
		t.Error("cosign.pub replaced while another process held the directory")
	}
	unlock()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkKeyPair(t, prefix)
	if pub, _ := os.ReadFile(prefix + ".pub"); bytes.Equal(pub, oldPub) {
		t.Error("keygen --force kept the old public key")
	}
}

// TestSignTwoSignersAtOnce: two people adding their signatures to one
// bundle directory at once (a two-person rule) each read manifest.dsse,
// added a signature and wrote it back, so one signature was lost while
// both runs said they had signed; the runs also interleaved index.json,
// the referrer blobs (each removing the other's as unreached) and
// SHA256SUMS. Under the directory's writers' lock the second waits for the
// first and adds its signature to the first's: the bundle verifies with
// both, at threshold 2.
func TestSignTwoSignersAtOnce(t *testing.T) {
	src := newBundle(t)
	engineer, engineerPub := testKeys(t, "engineer")
	authority, authorityPub := testKeys(t, "authority")
	for round := range 4 {
		dir := copyBundle(t, src)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, key := range []string{engineer, authority} {
			wg.Go(func() {
				_, errs[i] = mirror.Sign(context.Background(), mirror.SignOptions{
					Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
					Key: key, Password: testPass, Created: fixedTime,
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if _, err := verify(dir, mirror.TrustOptions{Keys: []string{engineerPub, authorityPub}, Threshold: 2}); err != nil {
			t.Fatalf("round %d: both signers said they signed, but: %v", round, err)
		}
		if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: mirror.TrustOptions{Keys: []string{engineerPub, authorityPub}}}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		assertSignedLayout(t, dir)
	}
}

// TestSignWaitsForAnotherWriter: sign does nothing to a bundle directory
// while another stella process holds its writers' lock (here the test, as
// another signer would between reading manifest.dsse and writing
// SHA256SUMS.sig), then signs it once the lock is released.
func TestSignWaitsForAnotherWriter(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	unlock, err := layout.LockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	log, waiting := newSignal("waiting for another stella process writing there")
	done := make(chan error, 1)
	go func() {
		_, err := mirror.Sign(context.Background(), mirror.SignOptions{
			Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
			Key: priv, Password: testPass, Created: fixedTime, Logger: log,
		})
		done <- err
	}()
	select {
	case <-waiting:
	case err := <-done:
		unlock()
		t.Fatalf("sign wrote into the bundle while another process was writing it (err %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "manifest.dsse")); err == nil {
		t.Error("manifest.dsse written while another process held the directory")
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := verify(dir, trustKeys(pub)); err != nil {
		t.Fatal(err)
	}
}

// raceTwo runs write(0) and write(1) at once and checks what two writers to
// one path may end in: exactly one succeeds and the file holds its bytes
// (want[i]); the other fails with errdef.ErrExists. Before, both passed
// the check that the output does not exist, both renamed their file into
// place, and both reported success for a file that held only the later's.
func raceTwo(t *testing.T, out string, want [2][]byte, write func(i int) error) {
	t.Helper()
	if bytes.Equal(want[0], want[1]) {
		t.Fatal("the two writers would write the same bytes")
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { errs[i] = write(i) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two writers of %s: errors %v and %v, want exactly one to succeed", filepath.Base(out), errs[0], errs[1])
	}
	won := 0
	if errs[0] != nil {
		won = 1
	}
	if lost := errs[1-won]; !errors.Is(lost, errdef.ErrExists) {
		t.Errorf("the writer that lost: %v, want an exists error", lost)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want[won]) {
		t.Errorf("%s does not hold the bytes of the writer that succeeded", filepath.Base(out))
	}
}

// TestPackTwoAtOnceToOnePath: two packs of different bundles to one
// archive path at once: one is written, the other refused.
func TestPackTwoAtOnceToOnePath(t *testing.T) {
	ctx := context.Background()
	dirs := [2]string{newBundle(t), ""}
	dirs[1] = copyBundle(t, dirs[0])
	priv, _ := testKeys(t, "cosign")
	sign(t, dirs[1], priv)
	var want [2][]byte
	for i, d := range dirs {
		ref := filepath.Join(t.TempDir(), "ref.tar")
		if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: d, Output: ref}); err != nil {
			t.Fatal(err)
		}
		want[i], _ = os.ReadFile(ref)
	}
	for range 5 {
		out := filepath.Join(t.TempDir(), "bundle.tar")
		raceTwo(t, out, want, func(i int) error {
			_, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dirs[i], Output: out})
			return err
		})
	}
}

// TestCreateArchiveTwoAtOnce: two `create --output F.tar` of different
// bundles (created an hour apart) at once: one archive is written, the
// other run refused.
func TestCreateArchiveTwoAtOnce(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	opts := func(i int, out string) mirror.CreateOptions {
		o := createOpts(t, releaseFile, advisories, out)
		o.Created = o.Created.Add(time.Duration(i) * time.Hour)
		return o
	}
	var want [2][]byte
	for i := range 2 {
		ref := filepath.Join(t.TempDir(), "ref.tar")
		if _, err := mirror.Create(ctx, opts(i, ref)); err != nil {
			t.Fatal(err)
		}
		want[i], _ = os.ReadFile(ref)
	}
	for range 3 {
		out := filepath.Join(t.TempDir(), "bundle.tar")
		raceTwo(t, out, want, func(i int) error {
			_, err := mirror.Create(ctx, opts(i, out))
			return err
		})
	}
}

// waitsForLock holds dir's writers' lock, as another stella process
// writing there would, runs run in the background, and checks that it
// waits (logs msg) rather than finishing; then it calls held, releases the
// lock and returns what run returned.
func waitsForLock(t *testing.T, dir, msg string, run func(*slog.Logger) error, held func()) error {
	t.Helper()
	unlock, err := layout.LockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	log, waiting := newSignal(msg)
	done := make(chan error, 1)
	go func() { done <- run(log) }()
	select {
	case <-waiting:
	case err := <-done:
		unlock()
		t.Fatalf("wrote while another process held %s (err %v)", dir, err)
	}
	held()
	unlock()
	return <-done
}

// TestInventoryWaitsForAnotherWriter: two `inventory --key` runs at once
// could leave one's inventory.json beside the other's inventory.dsse, a
// signature over other bytes. The pair is written under the directory's
// writers' lock: a run waits while another holds it, then writes a pair
// whose signature is over its inventory.
func TestInventoryWaitsForAnotherWriter(t *testing.T) {
	ctx := context.Background()
	opts := signedInventory(t)
	out := opts.Output
	before, _ := os.ReadFile(out)
	err := waitsForLock(t, filepath.Dir(out), "waiting for another stella process writing there", func(log *slog.Logger) error {
		opts := opts
		opts.Now, opts.Logger = fixedTime.Add(time.Hour), log
		_, err := mirror.Inventory(ctx, opts)
		return err
	}, func() {
		if now, _ := os.ReadFile(out); !bytes.Equal(now, before) {
			t.Error("inventory.json replaced while another process held its directory")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	envData, _ := os.ReadFile(filepath.Join(filepath.Dir(out), "inventory.dsse"))
	env, err := dsse.Parse(envData)
	if err != nil || !bytes.Equal(env.Payload, data) || bytes.Equal(data, before) {
		t.Fatalf("inventory.dsse does not sign the new inventory.json (%v)", err)
	}
}

// TestPackWaitsForSign: pack read a bundle directory file by file while a
// sign could be rewriting manifest.dsse, index.json, SHA256SUMS and
// SHA256SUMS.sig, so an archive could hold some old files and some new
// (the new SHA256SUMS beside the old signature over it). pack reads under
// the directory's lock, shared with other readers and kept from writers:
// here the test holds it as sign would, and pack waits, then packs.
func TestPackWaitsForSign(t *testing.T) {
	dir := newBundle(t)
	out := filepath.Join(t.TempDir(), "bundle.tar")
	err := waitsForLock(t, dir, "waiting for another stella process writing the bundle", func(log *slog.Logger) error {
		_, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out, Logger: log})
		return err
	}, func() {
		if _, err := os.Lstat(out); err == nil {
			t.Error("archive written while another process was writing the bundle")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Readers do not wait for each other.
	unlock, err := layout.ReadLockDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: filepath.Join(t.TempDir(), "again.tar")}); err != nil {
		t.Fatal(err)
	}
}

// TestPackSplitTwoAtOnce: two `pack --split` of different bundles to one
// output at once both passed the check that no volume set was there, then
// renamed their volumes and lists over each other's: both succeeded,
// leaving volumes of one set beside the other's list. The set is placed
// under the directory's writers' lock and checked again there: one set is
// written whole, the other refused.
func TestPackSplitTwoAtOnce(t *testing.T) {
	ctx := context.Background()
	dirs := [2]string{newBundle(t), ""}
	dirs[1] = copyBundle(t, dirs[0])
	priv, _ := testKeys(t, "cosign")
	sign(t, dirs[1], priv)
	pack := func(i int, out string) error {
		_, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dirs[i], Output: out, Split: 300 << 10})
		return err
	}
	var want [2][]byte
	for i := range 2 {
		out := filepath.Join(t.TempDir(), "bundle.tar")
		if err := pack(i, out); err != nil {
			t.Fatal(err)
		}
		want[i], _ = os.ReadFile(out + layout.VolumesSuffix)
	}
	for range 5 {
		out := filepath.Join(t.TempDir(), "bundle.tar")
		raceTwo(t, out+layout.VolumesSuffix, want, func(i int) error { return pack(i, out) })
		vs, _, err := layout.OpenVolumeSet(out + layout.VolumesSuffix)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Volumes {
			if err := vs.Check(v); err != nil {
				t.Fatalf("the volume set left: %v", err)
			}
		}
	}
	// And one that waits while another writes there.
	out := filepath.Join(t.TempDir(), "bundle.tar")
	err := waitsForLock(t, filepath.Dir(out), "waiting for another stella process writing there", func(log *slog.Logger) error {
		_, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dirs[0], Output: out, Split: 300 << 10, Logger: log})
		return err
	}, func() {
		if _, err := os.Lstat(out + layout.VolumesSuffix); err == nil {
			t.Error("volume list written while another process held its directory")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCatalogOutputWaitsForAnotherWriter: catalog --output DIR writes
// catalog.json and catalog.dsse, which only verify together: under the
// directory's writers' lock, so two runs at once do not leave one's
// catalog beside the other's signature.
func TestCatalogOutputWaitsForAnotherWriter(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, s.dir, host, s.pub)); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	err := waitsForLock(t, out, "waiting for another stella process writing there", func(log *slog.Logger) error {
		_, err := mirror.Catalog(ctx, mirror.CatalogOptions{Repository: host + "/" + bundle.DefaultBundleRepository, Key: s.priv, Password: testPass,
			Output: out, Client: testutil.Client(t), Logger: log})
		return err
	}, func() {
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("written while another process held the directory: %v", entries)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(out, mirror.CatalogFileName))
	envData, _ := os.ReadFile(filepath.Join(out, mirror.CatalogEnvelopeName))
	if env, err := dsse.Parse(envData); err != nil || !bytes.Equal(env.Payload, data) {
		t.Fatalf("catalog.dsse does not sign catalog.json (%v)", err)
	}
}
