package mirror

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// clutter says what a file is when a file manager, not the bundle, put it
// there: macOS Finder copying onto FAT or exFAT media writes .DS_Store and
// an AppleDouble ._NAME beside every file (blobs/sha256/._<hex> too),
// Windows Explorer Thumbs.db and desktop.ini. They are refused all the same
// (nothing unsigned is vouched for), but named as what they are, with the
// way to remove them, instead of as a file planted in the bundle. name is
// a slash-separated path; what is "" for anything else.
func clutter(name string) (what, remove string) {
	base := path.Base(name)
	mac := "dot_clean %[1]s, or find %[1]s -name '._*' -delete -o -name .DS_Store -delete"
	win := "find %[1]s -iname Thumbs.db -delete -o -iname desktop.ini -delete"
	switch {
	case strings.HasPrefix(base, "._"):
		return "a macOS metadata file (AppleDouble)", mac
	case base == ".DS_Store":
		return "a macOS Finder file (.DS_Store)", mac
	case strings.EqualFold(base, "Thumbs.db"):
		return "a Windows thumbnail cache (Thumbs.db)", win
	case strings.EqualFold(base, "desktop.ini"):
		return "a Windows folder settings file (desktop.ini)", win
	}
	return "", ""
}

// volumeClutter says what rel is when the system, not the bundle, put it
// at the root of a volume, the bundle directory being that root: macOS
// writes .Trashes, .fseventsd and .Spotlight-V100 there at each mount,
// Windows System Volume Information and $RECYCLE.BIN. They are refused
// all the same, but named as what they are, with what to do: removed,
// they come back, so the bundle wants a directory of its own on the
// volume. rel is slash-separated; what is "" for anything else.
func volumeClutter(rel string) (what, advice string) {
	top, _, _ := strings.Cut(rel, "/")
	system := ""
	switch top {
	case ".Trashes":
		what, system = "a macOS volume's trash (.Trashes)", "macOS"
	case ".fseventsd":
		what, system = "a macOS volume's file system event log (.fseventsd)", "macOS"
	case ".Spotlight-V100":
		what, system = "a macOS volume's Spotlight index (.Spotlight-V100)", "macOS"
	}
	switch {
	case strings.EqualFold(top, "System Volume Information"):
		what, system = "a Windows volume's system folder (System Volume Information)", "Windows"
	case strings.EqualFold(top, "$RECYCLE.BIN"):
		what, system = "a Windows volume's recycle bin ($RECYCLE.BIN)", "Windows"
	}
	if what == "" {
		return "", ""
	}
	return what, "the bundle directory is the root of a volume, where " + system + " writes it again at each mount: keep the bundle in a directory of its own on the volume (its files moved into %[1]s/bundle, say)"
}

// clutterError refuses p (rel, slash-separated, in the bundle directory
// dir) as clutter, or returns nil when it is not.
func clutterError(p, rel, dir string) error {
	if what, advice := volumeClutter(rel); what != "" {
		return fmt.Errorf("%s: %s, not part of the bundle: %s: %w", p, what, fmt.Sprintf(advice, dir), errdef.ErrMalformed)
	}
	what, remove := clutter(rel)
	if what == "" {
		return nil
	}
	return fmt.Errorf("%s: %s, not part of the bundle: remove them (%s): %w", p, what, fmt.Sprintf(remove, dir), errdef.ErrMalformed)
}

// nonBlobError refuses p, an entry of a bundle directory's blobs/sha256 of
// type mode, when it is no regular file (a directory, a symbolic link, a
// named pipe, a device): no blob, whatever its name, and no part of the
// bundle. verify, import, push, serve and sign name it so, in these words;
// a blob nothing reaches was said of it ("no manifest of the bundle
// reaches it"). nil for a regular file.
func nonBlobError(p string, mode fs.FileMode) error {
	if mode.IsRegular() {
		return nil
	}
	return fmt.Errorf("%s: %s, not part of the bundle (blobs/sha256 holds blobs, regular files, only): move it out of the bundle directory: %w", p, layout.FileKind(mode), errdef.ErrMalformed)
}

// clutterEntryError refuses an archive's entry as clutter, or returns nil
// when it is not: the directory was packed with it by another tool.
func clutterEntryError(prefix, entry string) error {
	if what, _ := volumeClutter(entry); what != "" {
		return fmt.Errorf("%sarchive entry %q: %s, not part of the bundle: pack the bundle directory with stella mirror pack, which writes the bundle's files only: %w",
			prefix, entry, what, errdef.ErrMalformed)
	}
	what, remove := clutter(entry)
	if what == "" {
		return nil
	}
	return fmt.Errorf("%sarchive entry %q: %s, not part of the bundle: remove them from the bundle directory (%s) and pack it again with stella mirror pack, which writes the bundle's files only: %w",
		prefix, entry, what, fmt.Sprintf(remove, "DIR"), errdef.ErrMalformed)
}
