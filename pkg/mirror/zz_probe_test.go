package mirror_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

func TestProbeDeterminism(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	outs := map[string][][]byte{}
	for i, mask := range []int{0o022, 0o077} {
		old := syscall.Umask(mask)
		base := filepath.Join(t.TempDir(), "x"+string(rune('a'+i)), "deep")
		out := filepath.Join(base, "bundle")
		if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
			t.Fatal(err)
		}
		for _, suf := range []string{".tar", ".tar.gz", ".tar.zst"} {
			p := filepath.Join(base, "b"+suf)
			if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: out, Output: p}); err != nil {
				t.Fatal(err)
			}
			d, _ := os.ReadFile(p)
			outs[suf] = append(outs[suf], d)
			if bytes.Contains(d, []byte(base)) {
				t.Errorf("%s leaks host path/user", suf)
			}
			st, _ := os.Stat(p)
			t.Logf("%s mode %v", suf, st.Mode())
		}
		p := filepath.Join(base, "direct.tar")
		if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, p)); err != nil {
			t.Fatal(err)
		}
		d, _ := os.ReadFile(p)
		outs["direct"] = append(outs["direct"], d)
		m, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
		outs["manifest"] = append(outs["manifest"], m)
		syscall.Umask(old)
	}
	for k, v := range outs {
		if !bytes.Equal(v[0], v[1]) {
			t.Errorf("%s differs", k)
		}
	}
	if !bytes.Equal(outs[".tar"][0], outs["direct"][0]) {
		t.Errorf("create .tar != create+pack .tar")
	}
	hn, _ := os.Hostname()
	if bytes.Contains(outs["manifest"][0], []byte(hn)) {
		t.Errorf("hostname in manifest")
	}
}
