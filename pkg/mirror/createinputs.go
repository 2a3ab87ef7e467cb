package mirror

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/release"
)

// archiveLike matches output names that promise an archive: create writes
// a directory or a plain .tar, and a directory called bundle.tar.xz or
// bundle.TAR would be taken for one.
var archiveLike = regexp.MustCompile(`(?i)\.(tar(\.[a-z0-9]+)?|tgz|txz|tbz2?|zip)$`)

// checkCreateInputs refuses, before anything is fetched, what create
// would otherwise find wrong only once every blob is on disk, or take
// without a word: a version or channel that makes no bundle id, a
// version in the form of a digest's artifact tag, a creation time no
// manifest.json holds, a certificate to carry with no key to sign, an
// output name that promises an archive create does not write.
func checkCreateInputs(opts CreateOptions, version, channel string) error {
	if bundle.ReservedTag(version) {
		return fmt.Errorf("release version %q is the form a registry and cosign keep for a digest's referrers and signatures, not a release's: %w", version, errdef.ErrUsage)
	}
	if err := release.CheckBundleID(version, channel); err != nil {
		return fmt.Errorf("release %v: %w", err, errdef.ErrUsage)
	}
	if c := opts.Created; !c.IsZero() && (c.Unix() <= 0 || c.Year() > 9999) {
		return fmt.Errorf("creation time %s: must be after 1970-01-01 and before the year 10000: %w", c.Format(time.RFC3339), errdef.ErrUsage)
	}
	if opts.Key == "" && (opts.Certificate != "" || opts.CertificateChain != "") {
		return fmt.Errorf("--certificate and --certificate-chain are carried with the signature --key makes: give --key, or sign the bundle later (stella mirror sign --certificate): %w", errdef.ErrUsage)
	}
	if archiveLike.MatchString(opts.Output) && !strings.HasSuffix(opts.Output, ".tar") {
		if _, err := layout.CompressionFor(opts.Output); err != nil {
			return fmt.Errorf("--output %s: create writes a directory or a .tar (lower case); name the directory otherwise, or create a .tar and pack it: %w", opts.Output, errdef.ErrUsage)
		}
	}
	return nil
}

// warnBundleRepository warns of an image in the repository the bundle
// itself goes to by default: import and serve refuse such a bundle unless
// --bundle-repo names another (its tag would be the image's), which the
// operator on the far side is better told now.
func warnBundleRepository(rel *release.Release, file string, log *slog.Logger) {
	for _, img := range rel.Images {
		if img.Ref.Repository == bundle.DefaultBundleRepository {
			log.Warn(fmt.Sprintf("%s:%d: image %s is in %s, where import and serve place the bundle itself by default: they will refuse this bundle unless given --bundle-repo naming another repository", file, img.Line, img.Ref, bundle.DefaultBundleRepository))
		}
	}
}
