package dsse

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// checkNoDuplicateKeys refuses a JSON document in which an object names a
// key twice. encoding/json keeps the last of them, another parser may keep
// the first; refusing them keeps every reader of an envelope in agreement
// on what was signed. Decoder.Token does not bound nesting depth (Decode
// does), so the recursion is bounded here: an envelope nests three deep,
// and a hostile one of millions of '[' would overflow the stack, a fatal
// error no caller can recover from.
func checkNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return checkValue(dec, 0)
}

// maxDepth bounds the nesting of an envelope's JSON (it has three levels).
const maxDepth = 32

func checkValue(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("field %q appears twice", key)
			}
			seen[key] = true
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}
