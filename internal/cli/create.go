package cli

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

type createFlags struct {
	images, advisories, output string
	force, allowTags, noRefs   bool
	platform                   string
	version, channel           string
	created, validFor          string
	generation                 int64
	generationSet              bool // --generation given, 0 too
	base                       string
	baseKeys, baseRoots        []string
	key, cert, chain           string
}

func newCreateCmd(app *app) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create --images RELEASE.yaml [--advisories DIR] --output DIR|FILE.tar [--key KEY]",
		Short: "Pull a release's images by digest and write a bundle directory (or signed archive)",
		Long: `Pull every image of a release by digest (all platforms, with its referrers
and the tags cosign keeps signatures, attestations and SBOMs under:
sha256-<hex>.sig, .att, .sbom), add the advisory files, and write a bundle
directory that is at once an OCI image layout and the plan's folder
(manifest.json, advisories/, scripts/, docs/, SHA256SUMS). The directory appears complete or not at all.

The cosign tags looked for are those of every manifest carried: the image's
own, its referrers', and in turn those of what the tags name, so an SBOM
signed by its own digest keeps its signature. --concurrency bounds the
images resolved at once, and the tag lookups in flight across all of them.

--platform keeps one platform of each multi-platform image: that image is
then carried as the platform's manifest, under its own digest, with the
referrers of that manifest. The index the release pins is not carried, nor
what hangs on it alone (its other platforms, BuildKit's attestation
manifests, signatures of the index): on the far side the pinned index digest
does not resolve; manifest.json records it as the image's source. An image
pinned as a single manifest is kept whatever its platform. The platform
is read as containerd (docker --platform) reads it, in the index too:
Linux is linux, x86_64 and x86-64 amd64, aarch64 arm64, armhf arm/v7,
armel arm/v6, i386 386, macos darwin; refusals name it so. Variants count
as containerd counts them: linux/arm is arm/v7, as is an arm manifest
naming no variant, and arm64 is arm64/v8; an arm platform the index has no
manifest of takes the closest lower variant (v7, then v6, then v5), as an
amd64 one naming its variant does (linux/amd64/v3 takes v3, then v2, then
v1, which plain amd64 is; linux/amd64/v2 never takes v3), never another
architecture. Manifests that fit equally well (linux/amd64 of an
index of amd64/v2 and amd64/v3) are refused, each named: give the variant.

createdAt comes from --created, else SOURCE_DATE_EPOCH, else the clock; with it
fixed, the same sources give the same bytes. expiresAt is createdAt plus
--valid-for: a fixed createdAt older than that (a SOURCE_DATE_EPOCH set to an
old commit's time) writes a bundle that is expired already, with a warning.

With --output FILE.tar, create writes the packed archive itself, in one pass
from the registries to the media: exactly the tar that create + pack would
write, with no directory copy and no second read of any layer. With --key it is
signed too (as sign does), before the layers are fetched; each layer is
verified as it is written, and the archive appears only when all are.

--plain-http talks plain HTTP to every registry of the run: the images'
and --base's. Where some have TLS and some not (an internal registry at
10.0.0.5:5000 and one behind a private CA), --plain-http-host HOST[:PORT]
names each registry without TLS, as the references name it (the port is
part of the name): those alone are talked to in plain HTTP, and get their
credentials so; every other one gets HTTPS, its certificate verified
(--ca-file).`,
		Example: `  stella mirror create --images deploy/releases/2025.10.0-stable.yaml \
    --advisories advisories/ --output bundle/
  SOURCE_DATE_EPOCH=1764547200 stella mirror create --images images.txt \
    --release-version 2025.10.0 --output bundle/
  stella mirror create --images deploy/releases/2025.10.0-stable.yaml --advisories advisories/ \
    --output stellaops-airgap-2025.10.0.tar --key env://COSIGN_PRIVATE_KEY
  stella mirror create --images release.yaml --output bundle/ --cert-file client.pem --key-file client.key
  stella mirror create --images release.yaml --output bundle/ --plain-http-host 10.0.0.5:5000 --ca-file internal-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.generationSet = cmd.Flags().Changed("generation")
			opts, err := f.options()
			if err != nil {
				return err
			}
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Transfer = app.transferOptions()
			opts.Logger = app.logger()
			if msg := f.expiredAtBirth(opts, time.Now()); msg != "" {
				opts.Logger.Warn(msg)
			}
			opts.Producer = bundle.Producer{Name: "stella mirror", Version: Version()}
			if opts.Key != "" {
				opts.Password = app.password(cmd.Context(), false)
			}
			stop := app.progress(&opts.Transfer, "create")
			res, err := mirror.Create(cmd.Context(), opts)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
			return app.emit(res, func(w io.Writer) { printCreate(w, res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.images, "images", "", "release file: deploy/releases/<version>-<channel>.yaml, or a list of references (required)")
	fl.StringVar(&f.advisories, "advisories", "", "directory of advisory files (JSON, gzip'd or not), read through no symlink below it; the record an import keeps there (.stella-advisories.json) is left out")
	fl.StringVarP(&f.output, "output", "o", "", "bundle directory to write, or FILE.tar to write the packed archive in one pass (required)")
	fl.BoolVar(&f.force, "force", false, "replace an existing bundle directory (oci-layout and manifest.json, nothing a bundle does not hold; any other non-empty directory is refused)")
	fl.BoolVar(&f.allowTags, "allow-tags", false, "accept references without a digest, resolving each tag once")
	fl.BoolVar(&f.noRefs, "no-referrers", false, "do not carry the images' referrers, nor the signatures, attestations and SBOMs cosign keeps under sha256-<hex>.sig, .att, .sbom tags")
	fl.StringVar(&f.platform, "platform", "", "keep only this platform (os/arch[/variant][:osversion]) of multi-platform images")
	fl.StringVar(&f.version, "release-version", "", "release version (overrides release.version; required for a plain list)")
	fl.StringVar(&f.channel, "channel", "", "release channel (overrides release.channel)")
	fl.StringVar(&f.created, "created", "", "createdAt, RFC 3339 or Unix seconds (default: SOURCE_DATE_EPOCH, else now)")
	fl.StringVar(&f.validFor, "valid-for", "", fmt.Sprintf("how long the bundle stays importable, e.g. 720h or 30d (default %dd)", int(mirror.DefaultValidFor.Hours()/24)))
	fl.Int64Var(&f.generation, "generation", 0, "mirrorGeneration (default: createdAt in Unix seconds; for a delta, the base's plus one)")
	fl.StringVar(&f.base, "base", "", "make a delta: carry only what BASE lacks (a previous bundle DIR|FILE|FILE.volumes.json|REF, or an inventory.json of the far side)")
	fl.StringArrayVar(&f.baseKeys, "base-key", nil, "trusted key the base (or the inventory's .dsse) must be signed with (repeatable; --base needs it or --base-trust-root)")
	fl.StringArrayVar(&f.baseRoots, "base-trust-root", nil, "trusted root CA (PEM) a base bundle signed with --certificate must chain to (repeatable)")
	fl.StringVar(&f.key, "key", "", "with --output FILE.tar: sign the bundle (file, env://VAR, hashivault://KEY) as it is written")
	fl.StringVar(&f.cert, "certificate", "", "with --key: the signing key's certificate (PEM), carried in the bundle")
	fl.StringVar(&f.chain, "certificate-chain", "", "with --certificate: its intermediates (PEM)")
	_ = cmd.MarkFlagRequired("images")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func (f *createFlags) options() (mirror.CreateOptions, error) {
	opts := mirror.CreateOptions{
		ReleaseFile: f.images, AdvisoriesDir: f.advisories, Output: f.output, Force: f.force,
		AllowTags: f.allowTags, NoReferrers: f.noRefs, Platform: f.platform,
		Version: f.version, Channel: f.channel, Generation: f.generation,
		Base: f.base, BaseTrust: mirror.TrustOptions{Keys: f.baseKeys, TrustRoots: f.baseRoots, FlagPrefix: "base-"},
		Key: f.key, Certificate: f.cert, CertificateChain: f.chain,
	}
	created, from := f.created, "--created"
	if created == "" {
		created, from = os.Getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH"
	}
	var err error
	if created != "" {
		if opts.Created, err = parseTime(created); err != nil {
			return opts, usageError("%s=%s: want RFC 3339 or Unix seconds", from, created)
		}
		// Unix seconds 0 makes no generation, and years past 9999 no
		// RFC 3339 time: refused before anything is fetched.
		if opts.Created.Unix() <= 0 || opts.Created.Year() > 9999 {
			return opts, usageError("%s=%s: the creation time must be after 1970-01-01 and before the year 10000", from, created)
		}
		// The generation is createdAt in Unix seconds: one ahead of the
		// clock (a year mistyped) would pass every bundle made until then,
		// which the far side, once it imported this one, refuses as not
		// newer. A day's slack allows for a clock a little behind.
		if now := time.Now(); opts.Created.After(now.Add(maxCreatedAhead)) {
			return opts, usageError("%s=%s: the creation time is after this machine's clock (%s) by more than a day: the bundle's generation would pass that of every bundle made before then, which the far side would refuse as not newer (exit 8)",
				from, created, now.UTC().Format(time.RFC3339))
		}
	}
	if f.validFor != "" {
		if opts.ValidFor, err = parseDays(f.validFor); err != nil || opts.ValidFor <= 0 {
			return opts, usageError("--valid-for %q: want a positive duration such as 720h or 30d", f.validFor)
		}
	}
	// --generation 0 given is refused, not taken for the flag left out
	// (createdAt in Unix seconds): a counter starting at 0 would have
	// every bundle after the first refused as not newer.
	if f.generation < 0 || f.generationSet && f.generation == 0 {
		return opts, usageError("--generation %d: must be positive", f.generation)
	}
	if f.platform != "" {
		if _, err := mirror.ParsePlatform(f.platform); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// expiredAtBirth says, before anything is fetched, when the bundle create
// is about to write will be past its expiresAt already (createdAt fixed by
// --created or SOURCE_DATE_EPOCH, which CI often sets to the commit's time,
// and older than --valid-for): import, serve and verify would refuse it on
// the far side. Empty when it is not.
// Likewise a bundle that expires within a day (--valid-for 30m, minutes
// for days), which a crossing that takes longer brings to a far side that
// refuses it.
func (f *createFlags) expiredAtBirth(opts mirror.CreateOptions, now time.Time) string {
	validFor := opts.ValidFor
	if validFor == 0 {
		validFor = mirror.DefaultValidFor
	}
	created := opts.Created.UTC().Truncate(time.Second)
	if opts.Created.IsZero() {
		created = now.UTC().Truncate(time.Second)
	}
	expires := created.Add(validFor)
	from := "--created"
	if f.created == "" {
		from = "SOURCE_DATE_EPOCH=" + os.Getenv("SOURCE_DATE_EPOCH")
	}
	if expires.After(now) {
		// Against the clock in whole seconds, as createdAt is: else
		// --valid-for 1d, taken from the clock, expires a fraction of a
		// second within a day.
		if expires.Sub(now.Truncate(time.Second)) >= 24*time.Hour {
			return ""
		}
		if validFor >= 24*time.Hour {
			// Days given, or the default: the createdAt fixed in the
			// past is what leaves less than a day.
			return fmt.Sprintf("bundle expires at %s, within a day: %s makes createdAt %s; carried across later than that, import, serve and verify refuse it (exit 3) unless --allow-expired: give a later --created or a longer --valid-for",
				expires.Format(time.RFC3339), from, created.Format(time.RFC3339))
		}
		return fmt.Sprintf("bundle expires at %s, within a day (--valid-for %s): carried across later than that, import, serve and verify refuse it (exit 3) unless --allow-expired: give days, such as --valid-for 30d",
			expires.Format(time.RFC3339), f.validFor)
	}
	if opts.Created.IsZero() {
		return ""
	}
	return fmt.Sprintf("bundle expired when written: %s makes createdAt %s, so it expires at %s, already past; import, serve and verify will refuse it (exit 3) unless --allow-expired: give a later --created or a longer --valid-for",
		from, created.Format(time.RFC3339), expires.Format(time.RFC3339))
}

// maxCreatedAhead is how far past the clock createdAt may be.
const maxCreatedAhead = 24 * time.Hour

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError("time %q: want RFC 3339 or Unix seconds", s)
	}
	return t, nil
}

// parseDays reads a Go duration, or a whole number of days ("30d").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && (n <= 0 || n > maxValidDays) {
			// More overflows a time.Duration, to a short or negative one.
			return 0, fmt.Errorf("%d days: want 1 to %d", n, maxValidDays)
		}
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// maxValidDays is the most days a time.Duration holds (about 292 years).
const maxValidDays = int(math.MaxInt64 / int64(24*time.Hour))

func printCreate(w io.Writer, res *mirror.CreateResult) {
	m := res.Manifest
	fmt.Fprintf(w, "Created bundle %s\n", res.Path)
	release := m.Release.Version
	if m.Release.Channel != "" {
		release += " " + m.Release.Channel
	}
	fmt.Fprintf(w, "  release     %s (generation %d, expires %s)\n", release, m.MirrorGeneration, m.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(w, "  root        %s\n", res.Root.Digest)
	fmt.Fprintf(w, "  images      %d (%d blobs, %s fetched)\n", len(m.Images), res.Blobs, humanBytes(res.Bytes))
	fmt.Fprintf(w, "  advisories  %d\n", len(m.Advisories))
	if m.Base != nil {
		fmt.Fprintf(w, "  delta       on %s (generation %d): %d blobs omitted\n", m.Base.BundleID, m.Base.Generation, len(m.Base.Omitted))
	}
}
