package mirror

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// ChecksumsOptions say which bundle directory's SHA256SUMS to check.
type ChecksumsOptions struct {
	// Dir is the bundle directory. Required.
	Dir string
	// Trust says whose signature on SHA256SUMS (SHA256SUMS.sig) counts: a
	// trusted key, or a certificate the bundle carries that chains to a
	// trusted root. Empty: the list is checked, its signature is not.
	// SHA256SUMS.sig is one signature (the last signer's), so Threshold
	// does not apply.
	Trust TrustOptions
	// Concurrency bounds the parallel hashing; zero means the default.
	Concurrency int
	// Logger receives one warning per bad file; nil discards them.
	Logger *slog.Logger
}

// ChecksumsResult is what VerifyChecksums checked.
type ChecksumsResult struct {
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Signer is the key that signed SHA256SUMS; nil when no trust was
	// given and the signature was not checked.
	Signer *Signer `json:"signer,omitempty"`
}

// BadFile is a file that does not agree with SHA256SUMS.
type BadFile struct {
	Path string `json:"path"`
	// Problem is "missing", "not listed" ("not listed: " and what it is,
	// for what a file manager left there), "checksum mismatch", "is a
	// symbolic link", "is a directory" (where SHA256SUMS lists a file, or in
	// blobs/sha256, where only blobs are), "is a named pipe", "is a
	// device" or "is a socket" (problemKind), or, for a
	// directory (its path ends in "/") more than 32 levels deep and deeper
	// than any SHA256SUMS lists a file in, which is not read further,
	// problemDeep.
	Problem string `json:"problem"`
}

// notRegular says whether the file is there but is no regular file: its
// problem is problemKind's, the only one that starts so.
func (b BadFile) notRegular() bool {
	return strings.HasPrefix(b.Problem, problemKindPrefix)
}

// problemKind names a file that is not a regular file by what it is, in the
// words of layout.FileKind ("is a symbolic link", "is a named pipe", …),
// which verify, import, push, serve and sign use of one (nonBlobError,
// and a symlink or named pipe met elsewhere in the bundle): one thing, one
// name, whichever command met it.
func problemKind(m fs.FileMode) string {
	return problemKindPrefix + layout.FileKind(m)
}

const (
	problemKindPrefix = "is "
	// problemDeep is a directory, not empty, below the deepest that holds
	// a file SHA256SUMS lists (and past walkMinDepth levels, or past
	// walkMaxDepth): it is not read further.
	problemDeep = "not listed: a directory deeper than any SHA256SUMS lists a file in"
)

// maxNamedInError bounds how many bad files an error message names (the
// first by path), and so how many are held; every one of them is logged.
const maxNamedInError = 50

// VerifyChecksums checks a bundle directory against its SHA256SUMS: with
// Trust, the signature on the list first; then every listed file present
// and hashing right, and no file unlisted (SHA256SUMS and SHA256SUMS.sig
// aside). Every bad file is logged, the first 50 by path are named in the
// error and the rest counted; it wraps errdef.ErrDigestMismatch; a bad
// signature wraps errdef.ErrSignature.
func VerifyChecksums(ctx context.Context, opts ChecksumsOptions) (*ChecksumsResult, error) {
	log := logger(opts.Logger)
	dir, err := layout.Open(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	data, err := dir.ReadFile(layout.ChecksumsFile)
	if err != nil {
		return nil, err
	}
	res := &ChecksumsResult{Dir: opts.Dir}
	if err := opts.Trust.refuseCarried(opts.Dir); err != nil {
		return nil, err
	}
	if !opts.Trust.Empty() {
		// The signature first: a list nobody trusted signed is refused as
		// that, whatever its lines hold.
		if res.Signer, err = verifyChecksumsSig(ctx, dir, data, opts.Trust); err != nil {
			return nil, err
		}
	}
	sums, err := bundle.ParseChecksums(data)
	if err != nil {
		return nil, err
	}
	bad, err := checkFiles(ctx, dir, sums, concurrency(opts.Concurrency), res, log)
	if err != nil {
		return nil, err
	}
	if bad.count > 0 {
		names := make([]string, 0, len(bad.shown))
		for _, b := range bad.shown {
			names = append(names, b.Path+" ("+b.Problem+")")
		}
		more := ""
		if bad.count > len(names) {
			more = fmt.Sprintf(" and %d more", bad.count-len(names))
		}
		// A symlink or device is refused as verify refuses it: malformed,
		// not a file whose bytes changed. So is what a file manager left
		// there (clutterError), when nothing else is wrong: beside a
		// changed or missing file it must not hide that one.
		kind := errdef.ErrDigestMismatch
		if bad.notRegular || bad.clutter == bad.count {
			kind = errdef.ErrMalformed
		}
		remedy := ""
		if len(bad.remedies) > 0 {
			slices.Sort(bad.remedies)
			ways := make([]string, 0, len(bad.remedies))
			for _, r := range bad.remedies {
				ways = append(ways, fmt.Sprintf(r, opts.Dir))
			}
			remedy = ": remove them (" + strings.Join(ways, "; ") + ")"
		}
		if len(bad.advice) > 0 {
			// macOS's and Windows' say the same: the first.
			remedy += ": " + fmt.Sprintf(bad.advice[0], opts.Dir)
		}
		return nil, fmt.Errorf("%s: %d files disagree with %s: %s%s%s: %w", opts.Dir, bad.count, layout.ChecksumsFile, strings.Join(names, ", "), more, remedy, kind)
	}
	return res, nil
}

// verifyChecksumsSig checks SHA256SUMS.sig (base64 of an ASN.1 ECDSA
// signature over SHA-256 of SHA256SUMS, as cosign sign-blob writes it)
// against every trusted key.
func verifyChecksumsSig(ctx context.Context, dir *layout.Dir, sums []byte, trust TrustOptions) (*Signer, error) {
	sig, err := readChecksumsSig(dir)
	if err != nil {
		return nil, err
	}
	ts, err := trust.resolve(ctx, dir.ReadFile, func(leaf *x509.Certificate) bool {
		v, err := keys.NewVerifier(leaf.PublicKey, "")
		return err != nil || v.Verify(ctx, sums, sig) == nil
	})
	if err != nil {
		return nil, err
	}
	for _, v := range ts.verifiers {
		if v.Verify(ctx, sums, sig) == nil {
			return &Signer{KeyID: v.KeyID(), Source: ts.sources[v.KeyID()]}, nil
		}
	}
	msg := fmt.Sprintf("%s: %s does not verify with any of the %d trusted keys", dir.Path(), layout.ChecksumsSigFile, len(ts.verifiers))
	if len(ts.refused) > 0 {
		msg += "; certificates not trusted: " + strings.Join(ts.refused, "; ")
	}
	return nil, fmt.Errorf("%s: %w", msg, errdef.ErrSignature)
}

// readChecksumsSig reads and decodes SHA256SUMS.sig.
func readChecksumsSig(dir *layout.Dir) ([]byte, error) {
	raw, err := dir.ReadFile(layout.ChecksumsSigFile)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("%s: no %s: %w", dir.Path(), layout.ChecksumsSigFile, errdef.ErrSignature)
	}
	if err != nil {
		return nil, err
	}
	return decodeChecksumsSig(raw)
}

// decodeChecksumsSig decodes SHA256SUMS.sig: the base64 of one signature.
func decodeChecksumsSig(raw []byte) ([]byte, error) {
	sig, err := base64.StdEncoding.Strict().DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(sig) == 0 || len(sig) > 1024 {
		return nil, fmt.Errorf("%s: not the base64 of a signature: %w", layout.ChecksumsSigFile, errdef.ErrSignature)
	}
	return sig, nil
}

// badFiles keeps the first maxNamedInError bad files by path, and counts
// them all: a bundle directory is hostile input, and may hold any number
// of files SHA256SUMS does not list.
type badFiles struct {
	shown      []BadFile // sorted by path once sorted is called
	count      int
	notRegular bool // one of them is there but no regular file
	// remedies are the clutter's ways of removal (clutter), each once.
	remedies []string
	// advice is what to do of a volume's clutter (volumeClutter), once.
	advice []string
	// clutter counts the files a file manager left (of count).
	clutter int
	log     *slog.Logger
}

// addUnlisted adds rel, a file SHA256SUMS does not list: what a file
// manager left there is named as verify names it (clutter), with the way
// to remove it.
func (b *badFiles) addUnlisted(rel string) {
	if what, advice := volumeClutter(rel); what != "" {
		b.clutter++
		b.add(BadFile{rel, "not listed: " + what + ", not part of the bundle"})
		if !slices.Contains(b.advice, advice) {
			b.advice = append(b.advice, advice)
		}
		return
	}
	what, remove := clutter(rel)
	if what == "" {
		b.add(BadFile{rel, "not listed"})
		return
	}
	b.clutter++
	b.add(BadFile{rel, "not listed: " + what + ", not part of the bundle"})
	if !slices.Contains(b.remedies, remove) {
		b.remedies = append(b.remedies, remove)
	}
}

func (b *badFiles) add(f BadFile) {
	b.log.Warn("bad file", "path", f.Path, "problem", f.Problem)
	b.count++
	b.notRegular = b.notRegular || f.notRegular()
	if b.shown = append(b.shown, f); len(b.shown) >= 2*maxNamedInError {
		b.sorted()
	}
}

// sorted sorts the kept files by path and drops those past the first
// maxNamedInError.
func (b *badFiles) sorted() []BadFile {
	sort.Slice(b.shown, func(i, j int) bool { return b.shown[i].Path < b.shown[j].Path })
	b.shown = b.shown[:min(len(b.shown), maxNamedInError)]
	return b.shown
}

// checkFiles compares the directory with the list, hashing in parallel.
// Only the listed files are held (SHA256SUMS bounds them); a file not
// listed is counted as it is met, and only the first bad files by path
// are kept.
func checkFiles(ctx context.Context, dir *layout.Dir, sums []bundle.Checksum, conc int, res *ChecksumsResult, log *slog.Logger) (*badFiles, error) {
	bad := &badFiles{log: log}
	const (
		absent = iota
		regular
		odd // there, but no regular file: bad once, not also missing
	)
	listed := make(map[string]int, len(sums))
	for i, s := range sums {
		listed[s.Path] = i
	}
	state := make([]byte, len(sums))
	// No directory deeper than the deepest that holds a listed file can
	// hold one: past walkMinDepth levels, it is not entered (a hostile
	// depth of thousands of levels held a descriptor each, "too many open
	// files"), but named, if it holds anything, as not listed. Nor is one
	// past walkMaxDepth, whatever SHA256SUMS lists.
	depth := walkMinDepth
	for _, s := range sums {
		depth = max(depth, strings.Count(s.Path, "/"))
	}
	depth = min(depth, walkMaxDepth)
	enter := func(rel string) (bool, error) {
		// A directory where SHA256SUMS lists a file, or in blobs/sha256,
		// where only blobs are (named as a digest or not), is refused as
		// verify and sign refuse it, and not entered: an empty one
		// passed, a full one's files were named "not listed" (exit 2),
		// and a listed blob replaced by one "missing".
		i, isListed := listed[rel]
		if isListed || path.Dir(rel) == layout.BlobsDir+"/sha256" {
			if isListed {
				state[i] = odd
			}
			bad.add(BadFile{rel, problemKind(fs.ModeDir)})
			return false, nil
		}
		if strings.Count(rel, "/") < depth {
			return true, nil
		}
		f, err := os.Open(filepath.Join(dir.Path(), filepath.FromSlash(rel)))
		if err != nil {
			return false, err
		}
		defer f.Close()
		if _, err := f.ReadDir(1); err == nil {
			bad.add(BadFile{rel + "/", problemDeep})
		} else if !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, nil
	}
	err := walkBounded(dir.Path(), "", func(rel string, e fs.DirEntry) error {
		i, isListed := listed[rel]
		switch {
		case rel == layout.ChecksumsFile || rel == layout.ChecksumsSigFile:
		case e.Type()&fs.ModeSymlink != 0:
			if isListed {
				state[i] = odd
			}
			bad.add(BadFile{rel, problemKind(fs.ModeSymlink)})
		case !e.Type().IsRegular():
			if isListed {
				state[i] = odd
			}
			bad.add(BadFile{rel, problemKind(e.Type())})
		case isListed:
			state[i] = regular
		default:
			bad.addUnlisted(rel)
		}
		return nil
	}, enter)
	if err != nil {
		return nil, err
	}
	var total atomic.Int64
	results := make([]string, len(sums))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, s := range sums {
		if state[i] == odd {
			continue
		}
		if state[i] == absent {
			results[i] = "missing"
			continue
		}
		g.Go(func() error {
			rc, err := dir.Open(s.Path)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errdef.ErrNotFound) {
				results[i] = "missing"
				return nil
			}
			if err != nil {
				// There, but not opened (out of file descriptors,
				// say): no fault of the bundle's.
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			defer rc.Close()
			h := digest.SHA256.Digester()
			n, err := copyBuffered(gctx, h.Hash(), rc)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			total.Add(n)
			if h.Digest() != s.Digest {
				results[i] = "checksum mismatch"
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, s := range sums {
		if results[i] != "" {
			bad.add(BadFile{s.Path, results[i]})
		}
	}
	bad.sorted()
	res.Files, res.Bytes = len(sums), total.Load()
	return bad, nil
}

// walkBounded calls fn with the slash path under root of every file
// (anything but a directory) in the directory root/rel and below, in no
// set order. It reads each directory walkBatch entries at a time, not
// whole as filepath.WalkDir does, so a directory of any number of files
// holds no more of them than that; a directory is entered as it is met,
// when enter (if not nil) says so. Each level it is in holds the
// directory open: enter bounds the depth.
func walkBounded(root, rel string, fn func(rel string, e fs.DirEntry) error, enter func(rel string) (bool, error)) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		batch, err := f.ReadDir(walkBatch)
		for _, e := range batch {
			name := e.Name()
			if rel != "" {
				name = rel + "/" + name
			}
			var ferr error
			in := e.IsDir()
			if in && enter != nil {
				in, ferr = enter(name)
			}
			switch {
			case ferr != nil:
			case !e.IsDir():
				ferr = fn(name, e)
			case in:
				ferr = walkBounded(root, name, fn, enter)
			}
			if ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// walkBatch is how many entries of a directory walkBounded reads at once.
const walkBatch = 64

// walkMinDepth and walkMaxDepth bound the levels of directories
// verify-checksums enters, each a descriptor held: every file to
// walkMinDepth levels is named as it is; past it, to the deepest level
// SHA256SUMS lists a file in, at most walkMaxDepth.
const (
	walkMinDepth = 32
	walkMaxDepth = 256
)

// checkSigningFinished refuses a bundle directory that a sign stopped
// before its end (killed, or the disk filled) left half written: its
// SHA256SUMS.sig, if any, must verify its SHA256SUMS with a key of its own
// public-key.pem, and its head files (index.json, manifest.dsse, …) must
// be those SHA256SUMS lists. Carried on (packed, pushed), such a bundle
// passes verify and import, and its SHA256SUMS or `cosign verify-blob`
// fail on the far side. Only the head files are read: no trust decision
// (the far side's keys make that), and blobs are checked by whoever reads
// them. A directory without SHA256SUMS is not checked.
func checkSigningFinished(ctx context.Context, dir *layout.Dir) error {
	return checkSideFiles(ctx, dir.Path(), dir.ReadFile, "a sign that did not finish (killed, or the disk filled) leaves this: run sign again",
		filepath.Join(dir.Path(), layout.PublicKeyFile), "restore it from a copy of the bundle")
}

// checkArchiveSideFiles is checkSigningFinished for an archive, whose head
// files read reads: pack refuses a directory whose side files disagree, so
// in an archive they were altered or damaged since.
func checkArchiveSideFiles(ctx context.Context, path string, read func(string) ([]byte, error)) error {
	advice := "the archive was altered or damaged since pack wrote it (pack refuses a bundle whose files disagree): get a fresh copy"
	return checkSideFiles(ctx, path, read, advice, path+": "+layout.PublicKeyFile, advice)
}

// checkSideFiles checks the head files of the bundle at path, read by
// read, as checkSigningFinished says; advice says what to do when they
// disagree, restore what to do when its public-key.pem, pubName, does not
// parse (malformed).
func checkSideFiles(ctx context.Context, path string, read func(string) ([]byte, error), advice, pubName, restore string) error {
	data, err := read(layout.ChecksumsFile)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	unfinished := func(what string) error {
		return fmt.Errorf("%s: %s: %s", path, what, advice)
	}
	if raw, err := read(layout.ChecksumsSigFile); err == nil {
		sig, err := decodeChecksumsSig(raw)
		if err != nil {
			return fmt.Errorf("%s: %w: %s", path, err, advice)
		}
		pem, err := read(layout.PublicKeyFile)
		if err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return err
		}
		pubs, err := keys.ParsePublicKeys(pem)
		if err != nil && len(pem) > 0 {
			// Sign writes the file whole, so one that does not parse
			// was damaged since: named, and its block, not blamed on
			// an unfinished sign.
			damaged := "holds no public key that parses"
			if be := (*keys.BlockError)(nil); errors.As(err, &be) {
				damaged = be.Error()
			}
			return fmt.Errorf("%s: %s: %s: %w", pubName, damaged, restore, errdef.ErrMalformed)
		}
		verified := false
		for _, p := range pubs {
			if v, err := keys.NewVerifier(p, layout.PublicKeyFile); err == nil && v.Verify(ctx, data, sig) == nil {
				verified = true
				break
			}
		}
		if !verified {
			return fmt.Errorf("%w: %w", unfinished(fmt.Sprintf("%s does not verify %s with a key of its %s", layout.ChecksumsSigFile, layout.ChecksumsFile, layout.PublicKeyFile)), errdef.ErrSignature)
		}
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return err
	}
	sums, err := bundle.ParseChecksums(data)
	if err != nil {
		return err
	}
	listed := map[string]digest.Digest{}
	for _, c := range sums {
		listed[c.Path] = c.Digest
	}
	for _, name := range layout.HeadFiles() {
		if name == layout.ChecksumsFile || name == layout.ChecksumsSigFile {
			continue
		}
		content, err := read(name)
		if errors.Is(err, errdef.ErrNotFound) {
			if _, ok := listed[name]; ok {
				return fmt.Errorf("%w: %w", unfinished(name+" is listed in "+layout.ChecksumsFile+" but missing"), errdef.ErrDigestMismatch)
			}
			continue
		}
		if err != nil {
			return err
		}
		want, ok := listed[name]
		if !ok {
			return fmt.Errorf("%w: %w", unfinished(name+" is not listed in "+layout.ChecksumsFile), errdef.ErrDigestMismatch)
		}
		if got := digest.FromBytes(content); got != want {
			return fmt.Errorf("%w: %w", unfinished(fmt.Sprintf("%s hashes to %s, %s says %s", name, got, layout.ChecksumsFile, want)), errdef.ErrDigestMismatch)
		}
	}
	return nil
}
