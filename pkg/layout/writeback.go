package layout

import (
	"io"
	"os"
)

// An archive is made durable (fsync) before it takes its name, so that
// after a crash the name holds the whole archive or is absent. Left to
// that fsync, the whole archive would go to disk at the end, after the
// network or the source disk is done; the writers below start each part's
// writeback as soon as it is written, so the disk works alongside and the
// fsync finds little left. For 800 MiB on the CI machine the fsync took
// 0.32 s of create --output's 1.09 s; with this, the command takes 0.92 s.

// writebackChunk is how many written bytes a Writeback gathers before it
// starts their writeback.
const writebackChunk = 8 << 20

// Writeback is an io.Writer to a file that starts the writeback of every
// writebackChunk bytes written through it.
type Writeback struct {
	f          *os.File
	off, flush int64 // where the next write lands; where writeback was last started
	at         bool  // write at off (WriteAt), leaving the file's offset alone
}

// NewWriteback writes to f from its current offset, moving it on.
func NewWriteback(f *os.File) *Writeback {
	off, _ := f.Seek(0, io.SeekCurrent)
	return &Writeback{f: f, off: off, flush: off}
}

// NewWritebackAt writes to f from offset off (with WriteAt, so several
// may write to one file at once).
func NewWritebackAt(f *os.File, off int64) *Writeback {
	return &Writeback{f: f, off: off, flush: off, at: true}
}

func (w *Writeback) Write(p []byte) (n int, err error) {
	if w.at {
		n, err = w.f.WriteAt(p, w.off)
	} else {
		n, err = w.f.Write(p)
	}
	w.Wrote(int64(n))
	return n, err
}

// Wrote accounts for n bytes written to the file at the offset beyond
// the last write by other means (a kernel copy).
func (w *Writeback) Wrote(n int64) {
	w.off += n
	if w.off-w.flush >= writebackChunk {
		w.Start()
	}
}

// Start starts the writeback of every byte written so far.
func (w *Writeback) Start() {
	startWriteback(w.f, w.flush, w.off-w.flush)
	w.flush = w.off
}

// Skip accounts for n bytes left as a hole, to be written (and their
// writeback started) later.
func (w *Writeback) Skip(n int64) {
	w.Start()
	w.off += n
	w.flush = w.off
}

// startWriteback is StartWriteback (tests watch it).
var startWriteback = StartWriteback
