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
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// Round-trip through a generic value: encoding/json sorts map keys, and
	// UseNumber keeps numbers exactly as written.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Compact returns v as compact JSON with sorted keys and no HTML escaping, for
// the OCI documents (indexes, manifests) whose bytes we hash and push.
func Compact(v any) ([]byte, error) {
	pretty, err := Canonical(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, pretty); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
	again, err := Canonical(v)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errdef.ErrMalformed)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("not in canonical form (each key once, in its exact case, sorted, 2-space indent, one trailing newline) at byte %d: %w", firstDifference(again, data), errdef.ErrMalformed)
	}
	return nil
}
