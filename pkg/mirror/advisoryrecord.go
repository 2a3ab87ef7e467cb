package mirror

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// AdvisoryRecordName is the file in which import records, in
// --advisories-dir, the advisories it wrote there: which bundle, and each
// file with its digest and size. It is what lets the next import remove an
// advisory its release withdrew, and only one whose bytes are still those
// stella wrote. No bundle holds an advisory of that name (create leaves
// out the record of a directory an import wrote, and readers refuse it).
const AdvisoryRecordName = bundle.AdvisoryRecordName

// advisoryRecordSchema is the record's format version; a newer one is
// refused (upgrade stella), never read as this one.
const advisoryRecordSchema = 1

// maxAdvisoryRecord bounds the record read back: the directory is writable
// by others, and the record lists no more files than a manifest.json (4 MiB)
// names advisories, each in fewer bytes than there.
const maxAdvisoryRecord = 8 << 20

// advisoryRecord is what an import wrote into an advisories directory.
type advisoryRecord struct {
	SchemaVersion int                `json:"schemaVersion"`
	BundleID      string             `json:"bundleId"`
	Version       string             `json:"version"`
	Generation    int64              `json:"mirrorGeneration"`
	Root          digest.Digest      `json:"root"`
	Files         []recordedAdvisory `json:"files"`
	// Pending are the files an import was about to rename into place
	// when it wrote this record, before its renames: one cut short
	// after some leaves them on disk, under no other entry of the record
	// (a new advisory) or under the previous bytes' entry (a changed one).
	// The next import withdraws them as stella's too; a complete import's
	// record has none.
	Pending []recordedAdvisory `json:"pending,omitempty"`

	// foreign, when not "", says why the record read back may not be this
	// user's own (foreignRecord): it then removes nothing.
	foreign string
}

// recordedAdvisory is one file of the record: its path under the
// directory (slash-separated, as relName gives it), digest and size, and
// the file itself (its inode, fileID; none on Windows). A file of the same
// name and bytes that is another file (the operator's own copy, a record
// copied or edited to name it) is not the one stella wrote, and is left.
type recordedAdvisory struct {
	Path   string        `json:"path"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	File   uint64        `json:"file,omitempty"`
}

// readRecord reads the directory's record; nil, nil when there is none
// (a directory no import of this version wrote into). One that is not a
// record this stella wrote is refused, before anything is written: what
// stella may remove there is unknown without it.
func (a *advisoryWriter) readRecord() (*advisoryRecord, error) {
	st, err := a.root.Lstat(AdvisoryRecordName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--advisories-dir %s: %w", a.dir, err)
	}
	bad := func(why string, kind error) error {
		return fmt.Errorf("--advisories-dir %s: %s is not a record stella wrote (%s): move it aside, and stella removes none of the advisories it wrote before: %w",
			a.dir, AdvisoryRecordName, why, kind)
	}
	if !st.Mode().IsRegular() {
		return nil, bad(layout.FileKind(st.Mode())+", not a regular file", errdef.ErrMalformed)
	}
	f, err := a.openRegular(AdvisoryRecordName, st)
	if err != nil {
		return nil, fmt.Errorf("--advisories-dir %s: %s: %w", a.dir, AdvisoryRecordName, err)
	}
	if f == nil {
		return nil, bad("replaced as it was read", errdef.ErrMalformed)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAdvisoryRecord+1))
	if err != nil {
		return nil, fmt.Errorf("--advisories-dir %s: %s: %w", a.dir, AdvisoryRecordName, err)
	}
	if len(data) > maxAdvisoryRecord {
		return nil, bad(fmt.Sprintf("over %d bytes", maxAdvisoryRecord), errdef.ErrMalformed)
	}
	var rec advisoryRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		var probe struct {
			SchemaVersion int `json:"schemaVersion"`
		}
		if json.Unmarshal(data, &probe) == nil && probe.SchemaVersion > advisoryRecordSchema {
			return nil, newerRecord(a.dir, probe.SchemaVersion)
		}
		return nil, bad(err.Error(), errdef.ErrMalformed)
	}
	if rec.SchemaVersion > advisoryRecordSchema {
		return nil, newerRecord(a.dir, rec.SchemaVersion)
	}
	if rec.SchemaVersion != advisoryRecordSchema {
		return nil, bad(fmt.Sprintf("schemaVersion %d", rec.SchemaVersion), errdef.ErrMalformed)
	}
	seen := map[string]bool{}
	for _, f := range rec.Files {
		if err := bundle.ValidPath("advisories/" + f.Path); err != nil || f.Path == "" {
			return nil, bad(fmt.Sprintf("path %q", f.Path), errdef.ErrMalformed)
		}
		if f.Digest.Validate() != nil || f.Size < 0 || seen[f.Path] {
			return nil, bad(fmt.Sprintf("entry %q", f.Path), errdef.ErrMalformed)
		}
		seen[f.Path] = true
	}
	for _, f := range rec.Pending {
		if err := bundle.ValidPath("advisories/" + f.Path); err != nil || f.Path == "" || f.Digest.Validate() != nil || f.Size < 0 {
			return nil, bad(fmt.Sprintf("pending entry %q", f.Path), errdef.ErrMalformed)
		}
	}
	rec.foreign = foreignRecord(st)
	return &rec, nil
}

func newerRecord(dir string, schema int) error {
	return fmt.Errorf("--advisories-dir %s: %s was written by a newer stella (schemaVersion %d; this stella reads %d): upgrade stella on this side: %w",
		dir, AdvisoryRecordName, schema, advisoryRecordSchema, errdef.ErrNewerFormat)
}

// checkRecordGeneration refuses (errdef.ErrGeneration) to write over the
// advisories of a newer bundle, or of another bundle of the same
// generation, unless allowRollback: as a bundle repository, the directory
// never goes back silently (another registry, written into the same
// directory, would not have said so).
func checkRecordGeneration(dir string, rec *advisoryRecord, md *metadata, allowRollback bool) error {
	m := md.Manifest
	if rec == nil || allowRollback {
		return nil
	}
	if m.MirrorGeneration < rec.Generation || (m.MirrorGeneration == rec.Generation && rec.Root != md.RootDesc.Digest) {
		return fmt.Errorf("bundle %s has generation %d; --advisories-dir %s holds the advisories of bundle %s, generation %d, of release %s (--allow-rollback to write this bundle's over them): %w",
			m.BundleID, m.MirrorGeneration, dir, rec.BundleID, rec.Generation, rec.Version, errdef.ErrGeneration)
	}
	return nil
}

// encodeRecord is the record's bytes: files sorted by path, two-space
// indent, a trailing newline, so the same content gives the same bytes
// (a re-run compares them and writes nothing).
func encodeRecord(rec *advisoryRecord) ([]byte, error) {
	slices.SortFunc(rec.Files, func(x, y recordedAdvisory) int { return strings.Compare(x.Path, y.Path) })
	slices.SortStableFunc(rec.Pending, func(x, y recordedAdvisory) int { return strings.Compare(x.Path, y.Path) })
	data, err := json.MarshalIndent(rec, "", "  ")
	return append(data, '\n'), err
}

// writeRecord writes the record durably, through a temporary file renamed
// into place and the directory synced: after the advisories it lists, so it
// never names a file that is not there.
func (a *advisoryWriter) writeRecord(data []byte) error {
	if err := a.removeStale(AdvisoryRecordName); err != nil {
		return fmt.Errorf("--advisories-dir %s: %w", a.dir, err)
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	tmp := fmt.Sprintf(".%s.tmp-%d-%s", AdvisoryRecordName, os.Getpid(), hex.EncodeToString(suffix[:]))
	f, err := a.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("--advisories-dir %s: %w", a.dir, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = a.root.Rename(tmp, AdvisoryRecordName)
	}
	if err != nil {
		a.root.Remove(tmp)
		return fmt.Errorf("--advisories-dir %s: %s: %w", a.dir, AdvisoryRecordName, err)
	}
	return layout.SyncDir(a.dir)
}
