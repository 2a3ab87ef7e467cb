package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Canonical returns v as canonical JSON: object keys sorted, 2-space indent,
// no HTML escaping, one trailing newline. The same value always gives the same
// bytes, which is what makes manifest.json, index.json and every manifest we
// write reproducible.
func Canonical(v any) ([]byte, error) {
	var w canonWriter
	if err := writeCanonical(&w, v, true); err != nil {
		return nil, err
	}
	return w.out, nil
}

// Compact returns v as compact JSON with sorted keys and no HTML escaping, for
// the OCI documents (indexes, manifests) whose bytes we hash and push.
func Compact(v any) ([]byte, error) {
	var w canonWriter
	if err := writeCanonical(&w, v, false); err != nil {
		return nil, err
	}
	return w.out, nil
}

// canonicalDifference reports where Canonical(v) and data first differ, or
// -1 where they are the same, without making Canonical(v): a manifest.json
// of the largest bundle is checked against its canonical form while only
// the decoded manifest and data are held.
func canonicalDifference(v any, data []byte) (int, error) {
	w := canonWriter{compare: data, compared: true, diff: -1}
	if err := writeCanonical(&w, v, true); err != nil {
		return 0, err
	}
	if w.diff < 0 && w.n != len(data) {
		w.diff = min(w.n, len(data))
	}
	return w.diff, nil
}

// DecodeCanonical decodes data, a signed document we write with Canonical
// (a catalog, an inventory, a volume list), into v strictly: no unknown
// field, nothing after it, and data must be exactly Canonical(v). Any other
// spelling (a key given twice, which encoding/json reads as its last, or
// in another case, which it matches to the field) could read one way here
// and another to a reviewer's tool. Failures wrap errdef.ErrMalformed.
func DecodeCanonical(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	at, err := canonicalDifference(v, data)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	if at >= 0 {
		return fmt.Errorf("not in canonical form (each key once, in its exact case, sorted, 2-space indent, one trailing newline) at byte %d: %w", at, errdef.ErrMalformed)
	}
	return nil
}
