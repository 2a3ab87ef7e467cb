package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// The canonical form is what encoding/json gives for v decoded into a
// generic value (maps sort their keys) and encoded again without HTML
// escaping, indented or compact. It was made just so, but the generic value
// of a manifest.json holds a map and an interface for every object and
// string: some ten times the document's size, for the largest bundle more
// than the rest of a command together. writeCanonical gives the same bytes
// from v's compact encoding alone, reordering each object's members where
// they lie: what it holds beyond that encoding and its output is a few
// offsets per member of the object being written.

// canonWriter receives the canonical bytes: appended to out, or, when
// compared, checked against compare (diff is the first offset at which they
// differ, -1 while none does).
type canonWriter struct {
	out      []byte
	compare  []byte
	compared bool
	n        int
	diff     int
}

func (w *canonWriter) write(p []byte) {
	if !w.compared {
		w.out = append(w.out, p...)
		return
	}
	if w.diff < 0 {
		rest := w.compare[min(w.n, len(w.compare)):]
		if i := firstDifference(p, rest); i < len(p) {
			w.diff = w.n + i
		}
	}
	w.n += len(p)
}

func (w *canonWriter) writeString(s string) { w.write([]byte(s)) }

// writeCanonical writes v's canonical form to w: indented, with a trailing
// newline, or compact.
func writeCanonical(w *canonWriter, v any, indent bool) error {
	// The encoder hands its whole encoding to one Write, from a buffer
	// it keeps for the next: rewritten there, it is never copied.
	c := &canonicalizer{w: w, indent: indent}
	enc := json.NewEncoder(c)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	if c.err != nil {
		return c.err
	}
	if indent {
		w.writeString("\n")
	}
	return nil
}

// Write takes the encoder's compact encoding of the value, with its
// newline, and writes its canonical form.
func (c *canonicalizer) Write(p []byte) (int, error) {
	c.src = bytes.TrimSuffix(p, []byte("\n"))
	defer func() { c.src = nil }()
	if !c.w.compared {
		// The output is the encoding and, indented, two spaces a level
		// and a line a value more: room for half again avoids growing it
		// for the documents we write.
		n := len(c.src) + 1
		if c.indent {
			n += len(c.src) / 2
		}
		c.w.out = make([]byte, 0, n)
	}
	end, err := c.value(0, 0)
	if err == nil && end != len(c.src) {
		err = fmt.Errorf("canonical json: data after the value at byte %d", end)
	}
	c.err = err
	return len(p), nil
}

// canonicalizer rewrites src, the compact JSON encoding/json wrote (no
// insignificant whitespace, valid), into canonical form.
type canonicalizer struct {
	src    []byte
	w      *canonWriter
	indent bool
	stack  []member
	err    error
}

// member is one member of an object: its key, unescaped, and where its
// value starts in src.
type member struct {
	key   []byte
	start int
}

// value writes the value that starts at src[i], at nesting depth, and
// returns the offset just after it.
func (c *canonicalizer) value(i, depth int) (int, error) {
	if i >= len(c.src) {
		return 0, fmt.Errorf("canonical json: unexpected end at byte %d", i)
	}
	switch c.src[i] {
	case '{':
		return c.object(i, depth)
	case '[':
		return c.array(i, depth)
	case '"':
		end, err := skipString(c.src, i)
		if err != nil {
			return 0, err
		}
		return end, c.str(c.src[i:end])
	default:
		end := skipLiteral(c.src, i)
		c.w.write(c.src[i:end])
		return end, nil
	}
}

// str writes a string literal as the encoder writes it: one holding an
// escape (only a json.RawMessage or a MarshalJSON can spell one otherwise)
// is decoded and encoded again.
func (c *canonicalizer) str(lit []byte) error {
	if !bytes.ContainsRune(lit, '\\') {
		c.w.write(lit)
		return nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return err
	}
	c.w.write(encodeString(s))
	return nil
}

func encodeString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (c *canonicalizer) newline(depth int) {
	if !c.indent {
		return
	}
	c.w.writeString("\n")
	for range depth {
		c.w.writeString("  ")
	}
}

func (c *canonicalizer) array(i, depth int) (int, error) {
	i++ // '['
	if i < len(c.src) && c.src[i] == ']' {
		c.w.writeString("[]")
		return i + 1, nil
	}
	c.w.writeString("[")
	for first := true; ; first = false {
		if !first {
			c.w.writeString(",")
		}
		c.newline(depth + 1)
		end, err := c.value(i, depth+1)
		if err != nil {
			return 0, err
		}
		if end >= len(c.src) {
			return 0, fmt.Errorf("canonical json: unexpected end at byte %d", end)
		}
		i = end + 1
		if c.src[end] == ']' {
			break
		}
	}
	c.newline(depth)
	c.w.writeString("]")
	return i, nil
}

func (c *canonicalizer) object(i, depth int) (int, error) {
	i++ // '{'
	if i < len(c.src) && c.src[i] == '}' {
		c.w.writeString("{}")
		return i + 1, nil
	}
	// The members of every object being written share one stack: this
	// object's are stack[base:], those of the objects in its values are
	// pushed after them and gone again before the next member is written.
	base := len(c.stack)
	defer func() { c.stack = c.stack[:base] }()
	for {
		kend, err := skipString(c.src, i)
		if err != nil {
			return 0, err
		}
		key := c.src[i+1 : kend-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(c.src[i:kend], &s); err != nil {
				return 0, err
			}
			key = []byte(s)
		}
		vstart := kend + 1 // ':'
		vend, err := skipValue(c.src, vstart)
		if err != nil {
			return 0, err
		}
		c.stack = append(c.stack, member{key: key, start: vstart})
		if vend >= len(c.src) {
			return 0, fmt.Errorf("canonical json: unexpected end at byte %d", vend)
		}
		i = vend + 1
		if c.src[vend] == '}' {
			break
		}
	}
	members := c.stack[base:]
	// A key given twice keeps its last value, as decoding it would.
	slices.SortStableFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	kept := members[:0]
	for _, m := range members {
		if n := len(kept); n > 0 && bytes.Equal(kept[n-1].key, m.key) {
			kept[n-1] = m
			continue
		}
		kept = append(kept, m)
	}
	c.stack = c.stack[:base+len(kept)]
	c.w.writeString("{")
	for k, m := range kept {
		if k > 0 {
			c.w.writeString(",")
		}
		c.newline(depth + 1)
		c.key(m.key)
		if c.indent {
			c.w.writeString(": ")
		} else {
			c.w.writeString(":")
		}
		if _, err := c.value(m.start, depth+1); err != nil {
			return 0, err
		}
	}
	c.newline(depth)
	c.w.writeString("}")
	return i, nil
}

// key writes a key as the encoder writes it; most need no escape.
func (c *canonicalizer) key(k []byte) {
	for _, b := range k {
		if b < 0x20 || b == '"' || b == '\\' || b >= 0x80 {
			c.w.write(encodeString(string(k)))
			return
		}
	}
	c.w.writeString(`"`)
	c.w.write(k)
	c.w.writeString(`"`)
}

// skipString returns the offset just after the string literal at src[i].
func skipString(src []byte, i int) (int, error) {
	if i >= len(src) || src[i] != '"' {
		return 0, fmt.Errorf("canonical json: string expected at byte %d", i)
	}
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("canonical json: unterminated string at byte %d", i)
}

// skipValue returns the offset just after the value at src[i].
func skipValue(src []byte, i int) (int, error) {
	if i >= len(src) {
		return 0, fmt.Errorf("canonical json: unexpected end at byte %d", i)
	}
	switch src[i] {
	case '"':
		return skipString(src, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				end, err := skipString(src, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("canonical json: unterminated value at byte %d", i)
	}
	return skipLiteral(src, i), nil
}

// skipLiteral returns the offset just after the number, true, false or
// null at src[i].
func skipLiteral(src []byte, i int) int {
	for i < len(src) && src[i] != ',' && src[i] != ']' && src[i] != '}' {
		i++
	}
	return i
}
