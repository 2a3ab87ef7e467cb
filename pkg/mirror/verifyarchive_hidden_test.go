package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyOfAnArchiveChecksItsSideFiles: SHA256SUMS and SHA256SUMS.sig
// are outside the DSSE signature. Altered on the media, verify of the
// directory refused them (exit 5), and verify of the same bytes as an
// archive passed them without a word: media verify let into the secure
// zone then failed `sha256sum -c` and `cosign verify-blob` once unpacked.
// verify of an archive now refuses them too, and says to get a fresh copy
// (not to sign again, a directory's advice).
func TestVerifyOfAnArchiveChecksItsSideFiles(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, name := range []string{"SHA256SUMS", "SHA256SUMS.sig"} {
		t.Run(name, func(t *testing.T) {
			path := s.pack(t, ".tar")
			tamperTar(t, path, name, 10)
			_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
			if !errors.Is(err, errdef.ErrSignature) || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "get a fresh copy") {
				t.Fatalf("err = %v; want a signature failure naming %s, advising a fresh copy", err, path)
			}
		})
	}
}

// TestVerifyRefusesEntriesHiddenInAFrame: a frame of pack's .tar.zst that
// decodes to more tar than its seek table gives it holds entries every
// other reader of the archive (zstd -d | tar x) sees, and stella never
// did: here, past SHA256SUMS (whose content verify never read), a second
// manifest.json and an unsigned advisory, which tar x lays over the signed
// ones. verify passed it (exit 0); it must refuse it as malformed.
func TestVerifyRefusesEntriesHiddenInAFrame(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	path := s.pack(t, ".tar.zst")
	hideInFrame(t, path, "public-key.pem", map[string]string{
		"manifest.json":               "{}\n",
		"advisories/zz-unsigned.json": "{}\n",
	})
	_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "holds more than the") {
		t.Fatalf("err = %v; want the frame holding more than its table gives refused as malformed", err)
	}
}

// hideInFrame appends tar entries to the zstd frame that ends with entry
// name's content, leaving that frame's tar size in the seek table as it
// was (only its compressed size changes, so the frames still tile).
func hideInFrame(t *testing.T, path, name string, hidden map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-9:]))
	tableSize := 8 + 8*n + 9
	table := data[len(data)-tableSize:]
	type frame struct{ at, size, tarAt, tarN int }
	frames := make([]frame, n)
	at, tarAt := 0, 0
	for i := range frames {
		c := int(binary.LittleEndian.Uint32(table[8+8*i:]))
		u := int(binary.LittleEndian.Uint32(table[12+8*i:]))
		frames[i] = frame{at, c, tarAt, u}
		at, tarAt = at+c, tarAt+u
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	plain, err := dec.DecodeAll(data[:len(data)-tableSize], nil)
	if err != nil {
		t.Fatal(err)
	}
	// Where name's content (padded) ends in the tar.
	end := -1
	cr := &hiddenCountReader{r: bytes.NewReader(plain)}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no entry %s: %v", name, err)
		}
		if h.Name == name {
			start := cr.n // the reader stopped where the content starts
			end = int(start) + int((h.Size+511)/512*512)
			break
		}
	}
	fi := -1
	for i, f := range frames {
		if f.tarAt+f.tarN == end {
			fi = i
		}
	}
	if fi < 0 {
		t.Fatalf("no frame ends with %s", name)
	}
	f := frames[fi]
	var extra bytes.Buffer
	tw := tar.NewWriter(&extra)
	for hn, content := range hidden {
		tw.WriteHeader(&tar.Header{Name: hn, Mode: 0o644, Size: int64(len(content)), ModTime: fixedTime, Format: tar.FormatUSTAR})
		tw.Write([]byte(content))
	}
	tw.Flush() // no end-of-archive blocks
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	frameBytes := enc.EncodeAll(append(append([]byte{}, plain[f.tarAt:f.tarAt+f.tarN]...), extra.Bytes()...), nil)
	enc.Close()
	binary.LittleEndian.PutUint32(table[8+8*fi:], uint32(len(frameBytes)))
	var out bytes.Buffer
	out.Write(data[:f.at])
	out.Write(frameBytes)
	out.Write(data[f.at+f.size : len(data)-tableSize])
	out.Write(table)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type hiddenCountReader struct {
	r io.Reader
	n int64
}

func (c *hiddenCountReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestMediaDamageInACompressedArchiveIsAMismatch: one byte altered in the
// middle of an archive, inside a layer. In a .tar the blob's digest finds
// it: exit 2, "get a fresh copy". In pack's .tar.zst and .tar.gz the
// codec's checksum found it first, and verify said malformed (exit 11),
// whose advice is to report a faulty producer. Every form now says the
// same: a digest mismatch, naming the frame.
func TestMediaDamageInACompressedArchiveIsAMismatch(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		path := s.pack(t, suffix)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x41
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: path, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
		if !errors.Is(err, errdef.ErrDigestMismatch) || (suffix != ".tar" && !strings.Contains(err.Error(), "at archive byte")) {
			t.Errorf("%s altered mid-archive: %v; want a digest mismatch (exit 2) naming where", suffix, err)
		}
	}
}
