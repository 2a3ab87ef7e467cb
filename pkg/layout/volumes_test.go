package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// writeVolumes splits data into volumes of size under dir and returns the
// list's path.
func writeVolumes(t *testing.T, dir string, data []byte, size int64) string {
	t.Helper()
	w := NewSplitWriter(filepath.Join(dir, "b.tar"), size)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	vs, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	list, _ := vs.Marshal()
	p := filepath.Join(dir, "b.tar"+VolumesSuffix)
	os.WriteFile(p, list, 0o644)
	return p
}

func TestVolumeSetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("stellaops-volume-"), 1000) // 17000 bytes
	list := writeVolumes(t, dir, data, 4096)
	vs, _, err := OpenVolumeSet(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Volumes) != 5 || vs.Volumes[4].Size != 17000-4*4096 {
		t.Fatalf("volumes %+v", vs.Volumes)
	}
	rc, err := vs.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes: %v", len(got), err)
	}
	// One byte flipped in volume 2: the read that ends it names it.
	p := filepath.Join(dir, vs.Volumes[2].Name)
	v, _ := os.ReadFile(p)
	v[7] ^= 1
	os.WriteFile(p, v, 0o644)
	rc, _ = vs.Open()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), vs.Volumes[2].Name) {
		t.Errorf("corrupt volume: %v", err)
	}
	if err := vs.Check(vs.Volumes[2]); !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Errorf("check: %v", err)
	}
	os.WriteFile(p, v[:100], 0o644)
	if _, err := vs.Open(); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), "has 100 bytes") {
		t.Errorf("short volume: %v", err)
	}
}

// TestVolumesSwapped: volumes copied one by one off several media and
// put under each other's names are said to be that, naming the volume each
// file holds, not only "corrupt"; by size where only one other volume has
// that size (the last), by digest where all are the same size.
func TestVolumesSwapped(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("stellaops-volume-"), 1000) // 17000 bytes: 4 volumes of 4096, 1 of 616
	vs, _, err := OpenVolumeSet(writeVolumes(t, dir, data, 4096))
	if err != nil {
		t.Fatal(err)
	}
	swap := func(i, j int) {
		a, b := filepath.Join(dir, vs.Volumes[i].Name), filepath.Join(dir, vs.Volumes[j].Name)
		os.Rename(a, a+".x")
		os.Rename(b, a)
		os.Rename(a+".x", b)
	}
	swap(1, 2)
	want := "(it holds b.tar.002: volumes swapped or misnamed?"
	if err := vs.Check(vs.Volumes[1]); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), want) {
		t.Errorf("check: %v", err)
	}
	rc, err := vs.Open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), want) {
		t.Errorf("read: %v", err)
	}
	swap(1, 2)
	swap(3, 4)
	if err := vs.CheckPresent(); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), "volume b.tar.003 has 616 bytes, the list says 4096, the size of b.tar.004 (volumes swapped or misnamed?") {
		t.Errorf("sizes: %v", err)
	}
}

// TestCheckSpan: a corrupt stretch of a split archive is put on the
// volume whose bytes differ from the list, among those holding it.
func TestCheckSpan(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("stellaops-volume-"), 1000) // 17000 bytes
	vs, _, err := OpenVolumeSet(writeVolumes(t, dir, data, 4096))
	if err != nil {
		t.Fatal(err)
	}
	r, err := vs.ReaderAt()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	name := func(i int) string { return vs.Volumes[i].Name }
	for _, c := range []struct {
		off, n int64
		want   string
	}{
		{0, 10, name(0)},
		{4000, 200, name(0) + "–" + name(1)},
		{5000, 9000, name(1) + "–" + name(3)},
		{16900, 1000, name(4)}, // beyond the end: the last volume
	} {
		if got, err := r.CheckSpan(c.off, c.n); got != c.want || err != nil {
			t.Errorf("CheckSpan(%d, %d) = %q, %v; want %q", c.off, c.n, got, err, c.want)
		}
	}
	p := filepath.Join(dir, name(2))
	v, _ := os.ReadFile(p)
	v[100] ^= 1
	os.WriteFile(p, v, 0o644)
	// A reader hashes each volume once: a new one sees the change.
	if _, err := r.CheckSpan(5000, 9000); err != nil {
		t.Errorf("volumes hashed again: %v", err)
	}
	if r, err = vs.ReaderAt(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.CheckSpan(5000, 9000); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), name(2)) {
		t.Errorf("corrupt volume 2 in the span: %v", err)
	}
	if _, err := r.CheckSpan(0, 4096); err != nil {
		t.Errorf("span without the corrupt volume: %v", err)
	}
}

// canonicalList is a volume list of b.tar (volumes of 10 and 5 bytes) as
// pack --split writes it.
func canonicalList(t *testing.T) string {
	t.Helper()
	data, err := (&VolumeSet{SchemaVersion: 1, Archive: "b.tar", VolumeSize: 10, Size: 15, Volumes: []Volume{
		{Name: "b.tar.000", Size: 10, Digest: digest.Digest("sha256:" + strings.Repeat("a", 64))},
		{Name: "b.tar.001", Size: 5, Digest: digest.Digest("sha256:" + strings.Repeat("b", 64))},
	}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseVolumeSetRefuses(t *testing.T) {
	good := canonicalList(t)
	if _, err := ParseVolumeSet("/x/b.tar.volumes.json", []byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"escaping name": strings.Replace(good, "b.tar.001", "../../etc/passwd", 1),
		"wrong archive": strings.Replace(good, `"archive": "b.tar"`, `"archive": "c.tar"`, 1),
		"short middle":  strings.Replace(strings.Replace(good, `"size": 10`, `"size": 9`, 1), `"size": 15`, `"size": 14`, 1),
		"bad total":     strings.Replace(good, `"size": 15`, `"size": 16`, 1),
		"bad digest":    strings.Replace(good, "sha256:"+strings.Repeat("a", 64), "md5:abc", 1),
		"unknown field": strings.Replace(good, `"schemaVersion": 1,`, `"schemaVersion": 1,`+"\n"+`  "x": 1,`, 1),
		// go-digest's Algorithm panics on a digest without a colon.
		"empty digest": strings.Replace(good, "sha256:"+strings.Repeat("a", 64), "", 1),
		"no colon":     strings.Replace(good, "sha256:"+strings.Repeat("a", 64), "sha256", 1),
	} {
		if bad == good {
			t.Fatalf("%s: mutation changed nothing", name)
		}
		if _, err := ParseVolumeSet("/x/b.tar.volumes.json", []byte(bad)); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestParseVolumeSetCanonical: a volume list is read only as pack --split
// writes it, like manifest.json, a catalog or an inventory. The same
// statement spelt otherwise (a key twice, which encoding/json reads as its
// last; keys in another order or case; other spacing) is refused naming
// the list and the byte where it departs, even when every value agrees.
func TestParseVolumeSetCanonical(t *testing.T) {
	const path = "/x/b.tar.volumes.json"
	good := canonicalList(t)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"key twice":         strings.Replace(good, `"archive": "b.tar",`, `"archive": "c.tar",`+"\n"+`  "archive": "b.tar",`, 1),
		"key twice, agreed": strings.Replace(good, `"archive": "b.tar",`, `"archive": "b.tar",`+"\n"+`  "archive": "b.tar",`, 1),
		"keys reordered":    strings.Replace(good, `"archive": "b.tar",`+"\n"+`  "schemaVersion": 1,`, `"schemaVersion": 1,`+"\n"+`  "archive": "b.tar",`, 1),
		"key in other case": strings.Replace(good, `"archive"`, `"Archive"`, 1),
		"compact":           compact.String() + "\n",
		"no final newline":  strings.TrimSuffix(good, "\n"),
		"CRLF":              strings.ReplaceAll(good, "\n", "\r\n"),
	} {
		if bad == good {
			t.Fatalf("%s: mutation changed nothing", name)
		}
		_, err := ParseVolumeSet(path, []byte(bad))
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not in canonical form") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// What the split writer lists, as Marshal writes it, reads back.
	dir := t.TempDir()
	list := writeVolumes(t, dir, bytes.Repeat([]byte("v"), 9000), 4096)
	if _, _, err := OpenVolumeSet(list); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseVolumeSet(f *testing.F) {
	f.Add([]byte("{\n  \"archive\": \"b.tar\",\n  \"schemaVersion\": 1,\n  \"size\": 10,\n  \"volumeSize\": 10,\n  \"volumes\": [\n    {\n      \"digest\": \"sha256:" + strings.Repeat("a", 64) + "\",\n      \"name\": \"b.tar.000\",\n      \"size\": 10\n    }\n  ]\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := ParseVolumeSet("/x/b.tar.volumes.json", data)
		if err != nil {
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, v := range vs.Volumes {
			if filepath.Dir(vs.Path(v)) != "/x" || v.Digest.Validate() != nil {
				t.Fatalf("accepted volume %+v", v)
			}
		}
		_ = digest.SHA256
	})
}
