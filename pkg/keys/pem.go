package keys

import (
	"bytes"
	"encoding/pem"
	"fmt"
)

// pemBlocks decodes the PEM blocks of data, at most limit+1 of them (the
// caller refuses more). encoding/pem passes over a block that does not
// decode (its base64 damaged, its END line cut off) to the next one, so
// a file of keys or certificates with one damaged would read as holding
// one less; here every BEGIN line that starts a line must start a block
// that decodes. Text between blocks is allowed, as openssl writes it.
func pemBlocks(data []byte, limit int) ([]*pem.Block, error) {
	begin := []byte("-----BEGIN ")
	var starts []int
	for i := 0; len(starts) <= limit; {
		j := bytes.Index(data[i:], begin)
		if j < 0 {
			break
		}
		at := i + j
		if at == 0 || data[at-1] == '\n' {
			starts = append(starts, at)
		}
		i = at + len(begin)
	}
	var out []*pem.Block
	for n, at := range starts {
		end := len(data)
		if n+1 < len(starts) {
			end = starts[n+1]
		}
		block, _ := pem.Decode(data[at:end])
		if block == nil {
			return nil, &BlockError{N: n + 1}
		}
		out = append(out, block)
	}
	return out, nil
}

// BlockError is a PEM block of a file of keys or certificates that does
// not decode: a reader of a bundle's own files names it, and the file.
type BlockError struct {
	N int // the block's number, from 1
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("PEM block %d does not decode (damaged, or cut short before its END line)", e.N)
}
