package mirror

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/stellaops/mirror/internal/testutil"
)

// A feed of JSON values (JSON Lines) cut short inside its last value, at a
// token boundary, passed checkJSON: the decoder's Token returns io.EOF at
// the end of the input even inside an open object or array, and checkJSON
// took that as the end of a well-formed feed because an earlier value was
// complete. create then carried a truncated advisory file as good JSON.
func TestAdvisoryTruncatedFeedRefused(t *testing.T) {
	for _, body := range []string{
		`{"id":"CVE-1"}` + "\n" + `{"id":"CVE-2",`,
		`{"id":"CVE-1"}` + "\n" + `{"id"`,
		`{"id":"CVE-1"}` + "\n" + `[{"id":"CVE-2"}`,
		`[1,2]` + "\n" + `[`,
	} {
		if _, err := checkJSON(strings.NewReader(body)); err == nil {
			t.Errorf("checkJSON(%q) accepted a truncated feed", body)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(body))
		zw.Close()
		if _, err := checkJSON(&gz); err == nil {
			t.Errorf("checkJSON(gzip %q) accepted a truncated feed", body)
		}
	}
	for _, body := range []string{`{"id":"CVE-1"}`, `{"a":1}` + "\n" + `{"b":[2]}` + "\n", `[]`, `1 2`} {
		if _, err := checkJSON(strings.NewReader(body)); err != nil {
			t.Errorf("checkJSON(%q): %v", body, err)
		}
	}
}

// endlessJSON reads as head, then fill without end, and fails once it
// has given limit bytes.
type endlessJSON struct {
	head         string
	fill         byte
	given, limit int
}

var errEndlessGaveUp = errors.New("endless JSON: limit reached")

func (r *endlessJSON) Read(p []byte) (int, error) {
	if r.given < len(r.head) {
		n := copy(p, r.head[r.given:])
		r.given += n
		return n, nil
	}
	if r.given >= r.limit {
		return 0, errEndlessGaveUp
	}
	for i := range p {
		p[i] = r.fill
	}
	r.given += len(p)
	return len(p), nil
}

// TestAdvisoryOfOneHugeStringRefused: the decoder holds a whole token, so
// one long string held a feed in memory: a 765 KiB gzip of a 768 MiB string
// made create take 1.6 GB and 12 s, then carried it. A string past
// maxAdvisoryToken is refused, having read little past it; strings up to
// the bound pass.
func TestAdvisoryOfOneHugeStringRefused(t *testing.T) {
	r := &endlessJSON{head: `{"d":"`, fill: 'a', limit: 64 << 20}
	var err error
	alloc := testutil.Allocated(func() { _, err = checkJSON(r) })
	if !errors.Is(err, errAdvisoryToken) || r.given > 2*maxAdvisoryToken || alloc > 64<<20 {
		t.Fatalf("err = %v after %d MiB of one string, %d MiB allocated; want it refused past %d MiB", err, r.given>>20, alloc>>20, maxAdvisoryToken>>20)
	}
	long := `{"d":"` + strings.Repeat("a", maxAdvisoryToken-64) + `","n":` + strings.Repeat("1", 1000) + `}`
	if _, err := checkJSON(strings.NewReader(long + "\n" + long)); err != nil {
		t.Errorf("a string just under the bound: %v", err)
	}
}

// TestAdvisoryNestedWithoutEndRefused: each "[" is a token the decoder
// takes at once, so the token bound never tripped, and the decoder keeps a
// stack entry for each: 32 MiB of "[" held 701 MiB of heap, and 768 MiB (a
// megabyte of gzip) would take gigabytes. Nesting past maxAdvisoryDepth is
// refused having read little; nesting to it passes.
func TestAdvisoryNestedWithoutEndRefused(t *testing.T) {
	r := &endlessJSON{fill: '[', limit: 32 << 20}
	var err error
	alloc := testutil.Allocated(func() { _, err = checkJSON(r) })
	if !errors.Is(err, errAdvisoryDepth) || r.given > 1<<20 || alloc > 64<<20 {
		t.Fatalf("err = %v after %d KiB of '[', %d MiB allocated; want it refused past %d levels", err, r.given>>10, alloc>>20, maxAdvisoryDepth)
	}
	deep := strings.Repeat("[", maxAdvisoryDepth) + strings.Repeat("]", maxAdvisoryDepth)
	if _, err := checkJSON(strings.NewReader(deep)); err != nil {
		t.Errorf("nesting %d deep: %v", maxAdvisoryDepth, err)
	}
}
