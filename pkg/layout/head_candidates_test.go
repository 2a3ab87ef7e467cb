package layout

import (
	"io"
	"testing"
)

// TestScanCandidatesAreBounded: Scan keeps small blobs an archive not in
// pack order holds before what wants them, within maxCandidateBytes of
// their content; an empty one counted nothing, so a million of them were
// all kept (their digests and map entries). Each now counts candidateCost
// besides its bytes.
func TestScanCandidatesAreBounded(t *testing.T) {
	n := maxCandidateBytes/candidateCost + 1000
	r, w := io.Pipe()
	go emptyEntries(w, n, blobName)
	defer r.Close()
	tr, err := NewTarReader(r)
	if err != nil {
		t.Fatal(err)
	}
	h, e, err := ReadHead(tr)
	if err != nil {
		t.Fatal(err)
	}
	for e != nil {
		if err := h.Scan(tr, e); err != nil {
			t.Fatal(err)
		}
		if e, err = tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if len(h.candidates) > maxCandidateBytes/candidateCost {
		t.Errorf("Scan kept %d empty candidates of %d, want at most %d", len(h.candidates), n, maxCandidateBytes/candidateCost)
	}
}
