package testutil

import "unicode/utf16"

// UTF16Text returns text as Windows PowerShell's > and Out-File write it:
// UTF-16 with its byte order mark, little-endian unless big.
func UTF16Text(text []byte, big bool) []byte {
	out := []byte("\xFF\xFE")
	if big {
		out = []byte("\xFE\xFF")
	}
	for _, u := range utf16.Encode([]rune(string(text))) {
		if big {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}
