package dsse

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// checkNoDuplicateKeys refuses a JSON document in which an object names a
// key twice. encoding/json keeps the last of them, another parser may keep
// the first; refusing them keeps every reader of an envelope in agreement
// on what was signed. (encoding/json bounds nesting depth, and so this
// recursion.)
func checkNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return checkValue(dec)
}

func checkValue(dec *json.Decoder) error {
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
			if err := checkValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}
