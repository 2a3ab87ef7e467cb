package transfer

// FreeBuffers is the number of a pool's buffers not in use.
func FreeBuffers(p *ChunkPool) int { return len(p.free) }
