package transfer

import "testing"

// FreeBuffers is the number of a pool's buffers not in use.
func FreeBuffers(p *ChunkPool) int { return len(p.free) }

// SetAtChunkSize makes PushAt's requests n bytes (not 512 MiB) until the
// test ends, so that a blob of a few MiB takes several. Not for parallel
// tests.
func SetAtChunkSize(t testing.TB, n int64) {
	old := atChunkSize
	atChunkSize = n
	t.Cleanup(func() { atChunkSize = old })
}
