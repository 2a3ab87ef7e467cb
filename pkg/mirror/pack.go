package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// PackOptions say what to pack where.
type PackOptions struct {
	// Dir is the bundle directory. Required.
	Dir string
	// Output is the archive to write; its suffix (.tar, .tar.gz, .tar.zst)
	// picks the codec. Required.
	Output string
	// Force replaces an existing Output.
	Force bool
	// Split, if positive, writes the archive as volumes of at most Split
	// bytes (Output.000, Output.001, …) with their list,
	// Output.volumes.json, instead of one file.
	Split int64
	// Key, if set with Split, signs the volume list
	// (Output.volumes.dsse); Password unlocks it.
	Key      string
	Password keys.PassFunc
	// Logger is told when Pack waits for another stella process writing
	// the bundle, or a volume set in the same directory; nil discards it.
	Logger *slog.Logger
}

// PackResult is what Pack wrote.
type PackResult struct {
	Path        string `json:"path"`
	Compression string `json:"compression"`
	Files       int    `json:"files"`
	// Bytes is the content packed, before compression; Size the archive's.
	Bytes int64 `json:"bytes"`
	Size  int64 `json:"size"`
	// Signed says whether the bundle carries its signature (manifest.dsse).
	// Pack takes an unsigned bundle, but import, serve and verify refuse
	// it, so the caller should say so before the archive leaves.
	Signed bool `json:"signed"`
	// VolumeList, Volumes and Signature are set for a split archive.
	VolumeList string          `json:"volumeList,omitempty"`
	Volumes    []layout.Volume `json:"volumes,omitempty"`
	Signature  string          `json:"signature,omitempty"`
}

// Pack writes a bundle directory as the deterministic tar of DESIGN.md.
// The archive is written beside its destination and renamed into place when
// complete, so Output holds a whole archive or nothing.
func Pack(ctx context.Context, opts PackOptions) (*PackResult, error) {
	codec, err := layout.CompressionFor(opts.Output)
	if err != nil {
		return nil, err
	}
	dir, err := layout.Open(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	// Written inside the bundle, the archive would be a file the bundle
	// does not name: the directory would no longer verify.
	if inside, err := isInside(opts.Dir, opts.Output); err != nil || inside {
		if err == nil {
			err = fmt.Errorf("--output %s is inside the bundle directory %s: write the archive elsewhere: %w", opts.Output, opts.Dir, errdef.ErrUsage)
		}
		return nil, err
	}
	if _, err := os.Lstat(opts.Output); err == nil && !opts.Force {
		return nil, fmt.Errorf("%s: %w (use --force to replace it)", opts.Output, errdef.ErrExists)
	}
	// Read under the bundle directory's lock, shared with other readers:
	// a sign at the same time rewrites manifest.dsse, index.json,
	// SHA256SUMS and its signature, and an archive of some of the old
	// files and some of the new would not hold together.
	unlock, err := readLock(ctx, opts.Dir, logger(opts.Logger))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := layout.RemoveStaleOutput(opts.Output); err != nil {
		return nil, err
	}
	_, err = os.Lstat(filepath.Join(opts.Dir, layout.EnvelopeFile))
	signed := err == nil
	if err := checkSigningFinished(ctx, dir); err != nil {
		return nil, err
	}
	if opts.Split > 0 {
		res, err := packSplit(ctx, dir, codec, opts)
		if res != nil {
			res.Signed = signed
		}
		return res, err
	}
	// Open (so locked) until it has taken its name.
	tmp, err := layout.CreateTemp(opts.Output)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	stats, err := dir.Pack(ctx, tmp, codec)
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		err = layout.OutOfRoom(opts.Output, layout.AdviceArchive, err)
		if full := (*layout.NoSpaceError)(nil); errors.As(err, &full) && !full.Inodes {
			// What the medium took before it was full is what one holds.
			if st, serr := tmp.Stat(); serr == nil {
				full.Took = st.Size()
			}
		}
		return nil, fmt.Errorf("pack %s: %w", opts.Dir, err)
	}
	st, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, err
	}
	if err := placeFile(tmp.Name(), opts.Output, opts.Force); err != nil {
		return nil, err
	}
	return &PackResult{Path: opts.Output, Compression: codec.String(), Files: stats.Files, Bytes: stats.Bytes, Size: st.Size(), Signed: signed}, nil
}

// PayloadTypeVolumes is the DSSE payloadType of a signed volume list.
const PayloadTypeVolumes = "application/vnd.stellaops.mirror-volumes+json"

// packSplit writes the archive as volumes and their (signed) list. The key
// is opened first, and the volumes take their names only once the list is
// signed: a key that does not open leaves no volume behind, and a set
// being replaced (--force) as it was.
func packSplit(ctx context.Context, dir *layout.Dir, codec layout.Compression, opts PackOptions) (*PackResult, error) {
	list := opts.Output + layout.VolumesSuffix
	// Volumes of a killed run are told from others' by sizes alone here,
	// a first look; by their digests under the lock below.
	if err := checkSplitOutput(opts, 1, false); err != nil {
		return nil, err
	}
	var sign func([]byte) ([]byte, error)
	if opts.Key != "" {
		var err error
		if sign, err = documentSigner(ctx, opts.Key, opts.Password, PayloadTypeVolumes); err != nil {
			return nil, err
		}
	}
	w := layout.NewSplitWriter(opts.Output, opts.Split)
	defer w.Abort()
	stats, err := dir.Pack(ctx, w, codec)
	if limit := (*layout.FileSizeLimitError)(nil); errors.As(err, &limit) {
		err = limit // the volume, not the bundle file being packed into it
	} else if full := (*layout.NoSpaceError)(nil); errors.As(err, &full) {
		err = full
	}
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", opts.Dir, err)
	}
	vs, err := w.Finish()
	if err != nil {
		return nil, err
	}
	data, err := vs.Marshal()
	if err != nil {
		return nil, err
	}
	var env []byte
	if sign != nil {
		if env, err = sign(data); err != nil {
			return nil, err
		}
	}
	res := &PackResult{Path: opts.Output, Compression: codec.String(), Files: stats.Files, Bytes: stats.Bytes, Size: vs.Size, VolumeList: list, Volumes: vs.Volumes}
	sigPath := strings.TrimSuffix(list, ".json") + ".dsse"
	// The set is a volume list, its signature and volumes that only make
	// sense together: placed under the directory's writers' lock, and
	// checked again under it, so that of two runs at once one set is
	// placed whole, then the other replaces it whole (Force) or is refused.
	outDir := filepath.Dir(opts.Output)
	unlock, err := writeLock(ctx, outDir, logger(opts.Logger))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkSplitOutput(opts, len(vs.Volumes), true); err != nil {
		return nil, err
	}
	// The list and its signature are written before the volumes take
	// their names, so a medium with room for the volumes and not for
	// them fails here, leaving nothing, not volumes without their list.
	roomFor := func(path string, err error) error {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("pack %s: %s: the medium holds the volumes (%.1f MiB) but has no room left for their list: free a few KiB on it, or pack them onto a disk with room and carry them across a few at a time: %w",
				opts.Dir, path, float64(vs.Size)/(1<<20), syscall.ENOSPC)
		}
		return fmt.Errorf("pack %s: %w", opts.Dir, layout.OutOfRoom(path, layout.AdviceArchive, err))
	}
	var sigFile *layout.StagedFile
	if env != nil {
		if sigFile, err = layout.StageFile(sigPath, env, 0o644); err != nil {
			return nil, roomFor(sigPath, err)
		}
		defer sigFile.Discard()
	}
	listFile, err := layout.StageFile(list, data, 0o644)
	if err != nil {
		return nil, roomFor(list, err)
	}
	defer listFile.Discard()
	if env == nil {
		// A previous set's signature is over another list: left beside
		// this one, it would read as a mismatch, not as unsigned.
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	// A set being replaced loses its list before its volumes: stopped in
	// between (killed, the disk full), the names must not read as a whole
	// set, an old list over volumes partly new.
	if err := os.Remove(list); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Recorded before the first volume takes its name, removed once the
	// list has its own: stopped in between, the record is what lets the
	// next run tell the volumes placed as ours, and replace them.
	if err := layout.MarkPending(opts.Output, data); err != nil {
		return nil, roomFor(opts.Output+layout.VolumesSuffix, err)
	}
	if err := w.Commit(); err != nil {
		return nil, err
	}
	if sigFile != nil {
		res.Signature = sigPath
		if err := sigFile.Place(); err != nil {
			return nil, err
		}
	}
	if err := listFile.Place(); err != nil {
		return nil, err
	}
	if err := layout.ClearPending(opts.Output); err != nil {
		return nil, err
	}
	return res, nil
}

// checkSplitOutput refuses, unless Force, a volume set where one is, and
// any file a set of n volumes would take the name of or remove. The
// volumes a pack --split killed before its list took its name left are
// no set: they are replaced, once they prove to be those its record names
// (layout.VolumeInTheWay; with hash, by their digests).
func checkSplitOutput(opts PackOptions, n int, hash bool) error {
	if opts.Force {
		return nil
	}
	list := opts.Output + layout.VolumesSuffix
	if _, err := os.Lstat(list); err == nil {
		return existsError(list)
	}
	if p := layout.VolumeInTheWay(opts.Output, n, hash); p != "" {
		return existsError(p)
	}
	return nil
}
