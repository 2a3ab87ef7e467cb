package mirror_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// makeBundle creates a bundle directory from the sample release.
func makeBundle(t *testing.T) string {
	t.Helper()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPackOrderAndHeaders(t *testing.T) {
	dir := makeBundle(t)
	archive := filepath.Join(t.TempDir(), "b.tar")
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: archive})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(archive)
	defer f.Close()
	// Headers: regular files only, uid/gid 0, no names, fixed mtime.
	raw := tar.NewReader(f)
	var names []string
	for {
		hdr, err := raw.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || !hdr.ModTime.Equal(fixedTime) {
			t.Errorf("%s: header %+v", hdr.Name, hdr)
		}
		names = append(names, hdr.Name)
	}
	if len(names) != res.Files {
		t.Errorf("%d entries, pack reported %d", len(names), res.Files)
	}
	want := []string{"oci-layout", "index.json", "manifest.json", "SHA256SUMS"}
	for i, w := range want {
		if names[i] != w {
			t.Fatalf("entry %d is %s, want %s (order %v)", i, names[i], w, names[:6])
		}
	}
	// One pass: the head holds every manifest before the first other blob.
	f.Seek(0, io.SeekStart)
	tr, _ := layout.NewTarReader(f)
	head, pending, err := layout.ReadHead(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !head.Complete() || pending == nil {
		t.Fatalf("head incomplete (missing %v) or no pending entry", head.Missing())
	}
	// The metadata layers (manifest.json, advisories, scripts, docs) come
	// before the image layers (the only blobs over 64 KiB here).
	m := readManifest(t, dir)
	small := map[string]bool{}
	for _, f := range append(m.Advisories, m.Files...) {
		small[layout.BlobName(f.Digest)] = true
	}
	// A metadata layer may pass 64 KiB itself (docs/TROUBLESHOOT.md does):
	// only a blob that is none of them counts as an image layer.
	meta := maps.Clone(small)
	seenLayer := false
	for e := pending; e != nil; {
		if _, ok := layout.BlobDigest(e.Name); ok {
			if seenLayer && small[e.Name] {
				t.Errorf("%s comes after an image layer", e.Name)
			}
			delete(small, e.Name)
			seenLayer = seenLayer || (!meta[e.Name] && e.Size > 64<<10)
		}
		var err error
		if e, err = tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if len(small) != 0 {
		t.Errorf("metadata layers missing from the tar: %v", small)
	}
}

func TestPackCodecsHoldTheSameTar(t *testing.T) {
	dir := makeBundle(t)
	work := t.TempDir()
	var tars [][]byte
	for _, name := range []string{"b.tar", "b.tar.gz", "b.tar.zst"} {
		p := filepath.Join(work, name)
		if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: p}); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(p)
		tr, err := layout.NewTarReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for {
			e, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			data, _ := io.ReadAll(tr)
			all = append(append(all, e.Name...), data...)
		}
		f.Close()
		tars = append(tars, all)
		// Inspect reads every codec and agrees with the directory.
		ri, err := mirror.Inspect(context.Background(), p, time.Now())
		if err != nil {
			t.Fatalf("inspect %s: %v", name, err)
		}
		rd, _ := mirror.Inspect(context.Background(), dir, time.Now())
		if ri.Root != rd.Root || ri.Totals != rd.Totals || len(ri.Images) != 5 {
			t.Errorf("inspect %s = %+v, dir = %+v", name, ri.Totals, rd.Totals)
		}
	}
	if string(tars[0]) != string(tars[1]) || string(tars[0]) != string(tars[2]) {
		t.Error("codecs hold different content")
	}
	// Byte for byte: the plain tar (written file to file by the kernel) is
	// exactly what the compressed one holds (written through tar.Writer).
	plain, _ := os.ReadFile(filepath.Join(work, "b.tar"))
	zf, _ := os.Open(filepath.Join(work, "b.tar.zst"))
	defer zf.Close()
	zr, _ := zstd.NewReader(zf)
	defer zr.Close()
	gf, _ := os.Open(filepath.Join(work, "b.tar.gz"))
	defer gf.Close()
	gr, err := gzip.NewReader(gf) // the standard library's, multistream
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{"zstd": zr, "gzip": gr} {
		inside, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(plain, inside) {
			t.Errorf("the plain tar (%d bytes) differs from the %s one's content (%d bytes): %v", len(plain), name, len(inside), err)
		}
	}
}

func TestPackRefusesCorruptDirectory(t *testing.T) {
	dir := makeBundle(t)
	m := readManifest(t, dir)
	layer := filepath.Join(dir, "blobs", "sha256", m.Advisories[0].Digest.Encoded())
	data, _ := os.ReadFile(layer)
	data[0] ^= 1
	os.Remove(layer) // break the hard link to advisories/
	os.WriteFile(layer, data, 0o644)
	out := filepath.Join(t.TempDir(), "b.tar")
	_, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out})
	if !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}

// TestPackRefusesStaleChecksumsSignature: a SHA256SUMS.sig that does not
// verify the bundle's SHA256SUMS with its public-key.pem (what a sign
// stopped between the two files left, before sign wrote the signature
// first) is refused, and nothing is written; one that verifies packs.
func TestPackRefusesStaleChecksumsSignature(t *testing.T) {
	dir, _, stale, _ := resignedBundle(t)
	out := filepath.Join(t.TempDir(), "b.tar")
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out}); err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	if err := os.WriteFile(filepath.Join(dir, layout.ChecksumsSigFile), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: out})
	if !errors.Is(err, errdef.ErrSignature) || !strings.Contains(err.Error(), "SHA256SUMS.sig does not verify SHA256SUMS") {
		t.Fatalf("err = %v, want ErrSignature naming SHA256SUMS.sig", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}

// TestPackSaysWhetherSigned: pack takes an unsigned bundle (it is the
// signer's call when to sign), but says so, since import, serve and verify
// refuse it: packed and split with --key, the list's signature can read as
// the bundle's.
func TestPackSaysWhetherSigned(t *testing.T) {
	dir := makeBundle(t)
	out := t.TempDir()
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: filepath.Join(out, "unsigned.tar")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signed {
		t.Error("an unsigned bundle packed as signed")
	}
	priv, _ := testKeys(t, "signer")
	sign(t, dir, priv)
	res, err = mirror.Pack(context.Background(), mirror.PackOptions{Dir: dir, Output: filepath.Join(out, "signed.tar"), Split: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Signed {
		t.Error("a signed bundle packed as unsigned")
	}
}

// cancelAfter cancels a context once more than n bytes were written
// through it, and counts what is written after.
type cancelAfter struct {
	n, written, after int64
	cancel            context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.written > c.n {
		c.after += int64(len(p))
	}
	c.written += int64(len(p))
	if c.written > c.n {
		c.cancel()
	}
	return len(p), nil
}

// Ctrl-C while pack writes a large layer: main catches the signal and
// cancels the context, so pack must stop within a buffer or two, not copy
// the layer (gigabytes, onto slow media) to its end first.
func TestPackStopsWithinALayerWhenCancelled(t *testing.T) {
	t.Parallel()
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{BaseLayerSize: 48 << 20})
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, dir)); err != nil {
		t.Fatal(err)
	}
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{n: 8 << 20, cancel: cancel}
	if _, err := d.Pack(ctx, w, layout.Gzip); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if w.after > 8<<20 {
		t.Errorf("%d bytes written after the context was cancelled", w.after)
	}
}

// An archive written inside the directory it packs is a file the bundle
// does not name: the directory no longer verifies (sign, verify and
// verify-checksums refuse it) and a second pack would carry the first.
// pack refuses it as a usage error and leaves the bundle as it was.
func TestPackRefusesOutputInsideBundle(t *testing.T) {
	dir := makeBundle(t)
	for _, opts := range []mirror.PackOptions{
		{Dir: dir, Output: filepath.Join(dir, "b.tar")},
		{Dir: dir, Output: filepath.Join(dir, "docs", "b.tar.zst")},
		{Dir: dir, Output: filepath.Join(dir, "b.tar"), Split: 1 << 20},
	} {
		if _, err := mirror.Pack(context.Background(), opts); !errors.Is(err, errdef.ErrUsage) {
			t.Errorf("pack --output %s: err = %v, want ErrUsage", opts.Output, err)
		}
	}
	if _, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir}); err != nil {
		t.Fatalf("the bundle was changed: %v", err)
	}
}

// TestVerifyRefusesUnfinishedSign: a bundle directory that a sign left half
// written (SHA256SUMS.sig not over SHA256SUMS, or SHA256SUMS not listing
// the head files as they are) holds sound content, so verify passed it;
// copied across as it is, the far side's verify-checksums or cosign
// verify-blob refuse it. verify now refuses it as pack and push do.
func TestVerifyRefusesUnfinishedSign(t *testing.T) {
	dir, pub, staleSig, staleSums := resignedBundle(t)
	if _, err := verify(dir, trustKeys(pub)); err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(dir, layout.ChecksumsSigFile))
	sums, _ := os.ReadFile(filepath.Join(dir, layout.ChecksumsFile))
	for _, tt := range []struct {
		name      string
		sig, sums []byte
		want      error
	}{
		{"stale signature", staleSig, sums, errdef.ErrSignature},
		{"stale list under its own signature", staleSig, staleSums, errdef.ErrDigestMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, layout.ChecksumsSigFile), tt.sig, 0o644)
			os.WriteFile(filepath.Join(dir, layout.ChecksumsFile), tt.sums, 0o644)
			_, err := verify(dir, trustKeys(pub))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "run sign again") {
				t.Fatalf("err = %v, want %v saying to sign again", err, tt.want)
			}
		})
	}
	os.WriteFile(filepath.Join(dir, layout.ChecksumsSigFile), sig, 0o644)
	os.WriteFile(filepath.Join(dir, layout.ChecksumsFile), sums, 0o644)
	if _, err := verify(dir, trustKeys(pub)); err != nil {
		t.Fatalf("restored: %v", err)
	}
}

// resignedBundle signs a bundle directory twice (the second signature is a
// new referrer, so a new SHA256SUMS) and returns it with the public key and
// the first signing's SHA256SUMS.sig and SHA256SUMS, now stale.
func resignedBundle(t *testing.T) (dir, pub string, staleSig, staleSums []byte) {
	t.Helper()
	dir = makeBundle(t)
	priv, pub := testKeys(t, "signer")
	sign(t, dir, priv)
	staleSig, err := os.ReadFile(filepath.Join(dir, layout.ChecksumsSigFile))
	if err != nil {
		t.Fatal(err)
	}
	if staleSums, err = os.ReadFile(filepath.Join(dir, layout.ChecksumsFile)); err != nil {
		t.Fatal(err)
	}
	sign(t, dir, priv)
	return dir, pub, staleSig, staleSums
}

// One volume of a split archive given where its list is meant (the first
// file an operator sees on the stick) is refused, naming the list to give
// instead, by every command that reads a bundle: it used to fail as a
// truncated archive (exit 11), which sent operators looking for damage.
func TestVolumeGivenForItsList(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: out, Split: 300 << 10}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	volume := layout.VolumeName(out, 1)
	for name, run := range map[string]func() error{
		"inspect": func() error { _, err := mirror.Inspect(ctx, volume, testNow); return err },
		"verify": func() error {
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: volume, Trust: trustKeys(s.pub), Now: testNow})
			return err
		},
		"import": func() error {
			_, err := mirror.Import(ctx, importOpts(t, volume, testutil.Registry(t), s.pub))
			return err
		},
		"serve": func() error {
			b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: volume, Trust: trustKeys(s.pub), Now: testNow})
			if err == nil {
				b.Close()
			}
			return err
		},
	} {
		err := run()
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), volume) || !strings.Contains(err.Error(), out+layout.VolumesSuffix) {
			t.Errorf("%s of %s: %v, want a usage error naming the volume and its list", name, filepath.Base(volume), err)
		}
	}
}
