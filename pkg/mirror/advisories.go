package mirror

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// addAdvisories copies every file of dir into the bundle under advisories/,
// checking on the way, in the same single read, that each is well-formed
// JSON, gzip'd or plain. Symlinks and special files are refused, also one
// swapped in after the walk listed the file. The record an import keeps in
// its --advisories-dir (a tier that carries on what it imported) is left
// out: it is stella's, not an advisory.
func addAdvisories(ctx context.Context, log *slog.Logger, dst *layout.Staging, dir string) ([]bundle.File, error) {
	if dir == "" {
		return nil, nil
	}
	named := dir
	dir, err := advisoriesRoot(dir)
	if err != nil {
		return nil, err
	}
	tree := layout.OpenTree(dir)
	defer tree.Close()
	var files []bundle.File
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("advisory %s: not a regular file (%s): %w", path, layout.FileKind(e.Type()), errdef.ErrMalformed)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if importRecord(rel) {
			log.Warn("advisory left out: it is the record of an import into that directory, not an advisory", "file", path)
			return nil
		}
		if _, ok := importTemporary(e.Name()); ok {
			log.Warn("advisory left out: it is the temporary file of an import into that directory (cut short, or under way), not an advisory", "file", path)
			return nil
		}
		name := "advisories/" + rel
		if err := bundle.ValidPath(name); err != nil {
			return fmt.Errorf("advisory %s: %v: %w", path, err, errdef.ErrMalformed)
		}
		f, err := addAdvisory(ctx, dst, tree, rel, path, name)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil && named != dir {
		err = fmt.Errorf("--advisories %s: %w", named, err)
	}
	return files, err
}

// advisoriesRoot resolves the --advisories directory: the user names it, so
// a symlink to it (feeds/current) is followed; below it, none is.
func advisoriesRoot(dir string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("--advisories %s: not a directory: %w", dir, errdef.ErrNotFound)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return "", fmt.Errorf("--advisories %s: not a directory: %w", dir, errdef.ErrNotFound)
	}
	return root, nil
}

// checkOutputOutsideAdvisories refuses an output inside the advisories
// directory: the walk would read create's own staging directory (or, run
// again, the bundle itself) as advisories.
func checkOutputOutsideAdvisories(dir, output string) error {
	if dir == "" {
		return nil
	}
	root, err := advisoriesRoot(dir)
	if err != nil {
		return err
	}
	if inside, err := isInside(root, output); err != nil || inside {
		if err != nil {
			return err
		}
		return fmt.Errorf("--output %s is inside --advisories %s: name an output outside the advisory feed: %w", output, dir, errdef.ErrUsage)
	}
	return nil
}

// importRecord reports whether rel, a file of the advisory feed, is the
// record an import keeps there, or a temporary file of one cut short.
func importRecord(rel string) bool {
	return rel == AdvisoryRecordName || strings.HasPrefix(rel, "."+AdvisoryRecordName+".tmp-")
}

func addAdvisory(ctx context.Context, dst *layout.Staging, tree *layout.Dir, rel, path, name string) (bundle.File, error) {
	src, err := tree.Open(rel)
	if err != nil {
		return bundle.File{}, fmt.Errorf("advisory %w", err)
	}
	defer src.Close()
	// The file is read once: into the bundle, and through a pipe into the
	// checker, which drains what it does not need so the copy never stalls.
	pr, pw := io.Pipe()
	type verdict struct {
		gzipped bool
		err     error
	}
	done := make(chan verdict, 1)
	go func() {
		var v verdict
		defer func() { done <- v }()
		defer func() {
			if errors.Is(v.err, errdef.ErrInternal) {
				// A panic (a bug) of the check: the copy, which
				// nothing drains now, fails with it.
				pr.CloseWithError(v.err)
			}
		}()
		defer errdef.Recover(&v.err)
		v.gzipped, v.err = checkJSON(pr)
		io.Copy(io.Discard, pr)
	}()
	// layout.ContextReader: a feed may be gigabytes, and Ctrl-C must stop its copy.
	desc, err := dst.AddFile(ctx, name, io.TeeReader(layout.ContextReader(ctx, src), pw), "", 0o644)
	pw.CloseWithError(err)
	v := <-done
	if errors.Is(v.err, errdef.ErrInternal) {
		return bundle.File{}, v.err
	}
	if err != nil {
		return bundle.File{}, err
	}
	if errors.Is(v.err, errAdvisoryToken) || errors.Is(v.err, errAdvisoryDepth) {
		return bundle.File{}, fmt.Errorf("advisory %s: %v: %w", path, v.err, errdef.ErrMalformed)
	}
	if v.err != nil {
		return bundle.File{}, fmt.Errorf("advisory %s: not well-formed JSON: %v: %w", path, v.err, errdef.ErrMalformed)
	}
	return advisoryEntry(name, desc.Digest, desc.Size, v.gzipped), nil
}

// advisoryEntry is the manifest.json entry of the advisory at name, of
// size bytes with digest d, gzip-compressed or not.
func advisoryEntry(name string, d digest.Digest, size int64, gzipped bool) bundle.File {
	mediaType := bundle.MediaTypeAdvisoryJSON
	if gzipped {
		mediaType = bundle.MediaTypeAdvisoryGzip
	}
	return bundle.File{Path: name, Source: advisorySource(name), Digest: d, Size: size, MediaType: mediaType}
}

// maxAdvisoryToken bounds one string or number of an advisory file. The
// decoder holds a whole token in memory, so one string of a feed (a few
// hundred kilobytes of gzip make gigabytes of it) would hold the feed in
// memory; the longest of real feeds (a description, a CVSS vector, a
// patch) are kilobytes.
const maxAdvisoryToken = 4 << 20

// errAdvisoryToken is the refusal of a token past maxAdvisoryToken.
var errAdvisoryToken = fmt.Errorf("holds a single string or number of more than %d MiB (stella's bound, which keeps memory bounded)", maxAdvisoryToken>>20)

// maxAdvisoryDepth bounds how deep an advisory's arrays and objects nest:
// each level is a token the decoder takes at once and a stack entry it
// keeps, so 768 MiB of "[" (a megabyte of gzip) would take gigabytes. It
// is encoding/json's own bound for Unmarshal; real feeds nest tens deep.
const maxAdvisoryDepth = 10000

// errAdvisoryDepth is the refusal of nesting past maxAdvisoryDepth.
var errAdvisoryDepth = fmt.Errorf("nests arrays and objects more than %d deep (stella's bound, which keeps memory bounded)", maxAdvisoryDepth)

// tokenBound reads for dec, failing once what dec holds unconsumed (the
// token it is reading) passes maxAdvisoryToken.
type tokenBound struct {
	r    io.Reader
	read int64
	dec  *json.Decoder
}

func (b *tokenBound) Read(p []byte) (int, error) {
	if b.read-b.dec.InputOffset() > maxAdvisoryToken {
		return 0, errAdvisoryToken
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// checkJSON reads r to its end and checks that it is one or more JSON
// values, gzip-compressed or not. It streams: memory stays bounded whatever
// the size of the feed, one token at a time (maxAdvisoryToken).
func checkJSON(r io.Reader) (gzipped bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	var in io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gzipped = true
		zr, err := gzip.NewReader(br)
		if err != nil {
			return true, err
		}
		defer zr.Close()
		in = zr
	}
	bound := &tokenBound{r: in}
	dec := json.NewDecoder(bound)
	bound.dec = dec
	dec.UseNumber() // a number past float64's range is still JSON
	values, depth := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			// Token reports the end of the input even inside an open
			// object or array: a feed cut short there is not well-formed.
			if depth != 0 {
				return gzipped, fmt.Errorf("ends inside an unclosed object or array (truncated?): %w", io.ErrUnexpectedEOF)
			}
			break
		}
		if err != nil {
			return gzipped, err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxAdvisoryDepth {
				return gzipped, errAdvisoryDepth
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			values++
		}
	}
	if values == 0 {
		return gzipped, fmt.Errorf("no JSON value")
	}
	return gzipped, nil
}

// advisorySource names the feed a file comes from: its first directory
// under advisories/, or the start of its name ("nvd-2025-12-01.json.gz" →
// "nvd").
func advisorySource(name string) string {
	rel := strings.TrimPrefix(name, "advisories/")
	if dir, _, ok := strings.Cut(rel, "/"); ok {
		return dir
	}
	base := rel
	if i := strings.IndexAny(base, "-._"); i > 0 {
		base = base[:i]
	}
	return base
}
