package mirror

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
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
