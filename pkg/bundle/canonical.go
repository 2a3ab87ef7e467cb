package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
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
