package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
)

// VerifyOptions say what to verify and whom to trust.
type VerifyOptions struct {
	// Envelope is a manifest.dsse, or a bundle directory (its
	// manifest.dsse). Required.
	Envelope string
	// Trust says whose signatures count. It must name a key or a root.
	Trust TrustOptions
	// SignatureOnly skips the deep walk of a bundle's content.
	SignatureOnly bool
	// AllowExpired accepts a bundle past its expiresAt, as import's
	// AllowExpired imports one.
	AllowExpired bool
	// Now is the time expiry is checked against; zero means the clock.
	Now time.Time
	// Concurrency bounds the parallel hashing; zero means the default.
	Concurrency int
	// Logger receives progress logs; nil discards them.
	Logger *slog.Logger
}

// VerifyResult is what Verify checked.
type VerifyResult struct {
	Envelope string `json:"envelope"`
	// Bundle is the bundle directory the envelope belongs to, if any.
	Bundle string        `json:"bundle,omitempty"`
	Root   digest.Digest `json:"root,omitempty"`
	// Manifest is the manifest.json the payload was compared with, if any.
	Manifest  string           `json:"manifest,omitempty"`
	Signature *SignatureResult `json:"signature"`
	// Content is the deep walk's count; nil outside a bundle or with
	// SignatureOnly.
	Content *ContentResult `json:"content,omitempty"`
}

// Verify checks a DSSE envelope's signatures and payload type against
// Trust. In a bundle directory or archive (.tar, .tar.gz, .tar.zst, or a
// volume list) it then checks that the payload is the bundle's
// manifest.json, byte for byte, that the bundle has not expired (unless
// AllowExpired), and (unless SignatureOnly) walks the bundle: every digest
// manifest.json names present and hashing right, nothing else in it. An
// archive is read once, with no extraction. Outside a bundle, a
// manifest.json beside the envelope must be its payload. The signature is
// checked before anything in the bundle is parsed. Errors:
// errdef.ErrSignature (exit 5), errdef.ErrDigestMismatch (2),
// errdef.ErrExpired (3), errdef.ErrMalformed (11), errdef.ErrNotFound (1).
func Verify(ctx context.Context, opts VerifyOptions) (*VerifyResult, error) {
	log := logger(opts.Logger)
	if opts.Trust.Empty() {
		return nil, fmt.Errorf("verify: no trusted key or root (--key or --trust-root): %w", errdef.ErrUsage)
	}
	path := opts.Envelope
	st, err := os.Stat(path)
	if err != nil {
		// DIR/manifest.dsse of a bundle directory that has none: the bundle
		// is not signed (exit 5, as for DIR), not an input that is missing.
		if dir := filepath.Dir(path); filepath.Base(path) == layout.EnvelopeFile && errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(filepath.Join(dir, layout.OCILayoutFile)); lerr == nil {
				return verifyBundle(ctx, dir, &VerifyResult{Envelope: path}, opts, log)
			}
		}
		return nil, layout.NotThere(path)
	}
	if st.IsDir() {
		path = filepath.Join(path, layout.EnvelopeFile)
	} else if isArchive(path) {
		return verifyArchive(ctx, path, opts, log)
	} else if err := layout.NotAVolume(path); err != nil {
		return nil, err
	} else if filepath.Base(path) != layout.EnvelopeFile && refuseBundleFile(path) != nil {
		// verify DIR/manifest.json, as sign takes it: a file given in the
		// wrong place, not a damaged bundle (exit 11).
		dir := filepath.Dir(path)
		return nil, fmt.Errorf("%s is a file of the bundle directory %s, not its envelope: give %s, or %s: %w", path, dir, filepath.Join(dir, layout.EnvelopeFile), dir, errdef.ErrUsage)
	}
	res := &VerifyResult{Envelope: path}
	envDir := filepath.Dir(path)
	if filepath.Base(path) == layout.EnvelopeFile {
		if _, err := os.Lstat(filepath.Join(envDir, layout.OCILayoutFile)); err == nil {
			return verifyBundle(ctx, envDir, res, opts, log)
		}
	}
	// Beside a bundle's manifest.json the files are the bundle's, its
	// layout gone or not; beside an envelope alone, a key is the user's.
	if _, err := os.Lstat(filepath.Join(envDir, layout.ManifestFile)); err == nil {
		if err := opts.Trust.refuseCarried(envDir); err != nil {
			return nil, err
		}
	}
	file := fileReader(envDir)
	data, err := file(filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	manifest, err := file(layout.ManifestFile)
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		manifest = nil
	case err != nil:
		return nil, err
	default:
		res.Manifest = filepath.Join(envDir, layout.ManifestFile)
	}
	if res.Signature, _, err = verifyEnvelope(ctx, data, bundle.PayloadType, manifest, file, opts.Trust); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// A bundle's manifest.json outside a bundle directory: its content
	// cannot be checked, and removing oci-layout from a tampered bundle
	// must not turn the deep verification into a signature-only one.
	if manifest != nil && !opts.SignatureOnly {
		_, perr := bundle.ParseManifest(manifest)
		if errors.Is(perr, errdef.ErrNewerFormat) {
			// A bundle's too, of a format this stella cannot check.
			return nil, fmt.Errorf("%s: %w", path, perr)
		}
		if perr == nil {
			return nil, fmt.Errorf("%s: %s is a bundle's, but %s is not a bundle directory (no %s), so its content cannot be verified (--signature-only checks the signature alone): %w",
				path, layout.ManifestFile, envDir, layout.OCILayoutFile, errdef.ErrMalformed)
		}
	}
	log.Info("signature verified", "envelope", path, "signers", len(res.Signature.Signers))
	return res, nil
}

// verifyBundle verifies a bundle directory's signature, then its content.
func verifyBundle(ctx context.Context, path string, res *VerifyResult, opts VerifyOptions, log *slog.Logger) (*VerifyResult, error) {
	dir, err := layout.Open(path)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	res.Bundle, res.Manifest = path, filepath.Join(path, layout.ManifestFile)
	if err := opts.Trust.refuseCarried(path); err != nil {
		return nil, err
	}
	file := headFileOf(dir.ReadFile)
	if res.Signature, err = verifyBundleSignature(ctx, file, opts.Trust); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	log.Info("signature verified", "envelope", res.Envelope, "signers", len(res.Signature.Signers))
	md, err := readMetadata(ctx, file, dir.FetchBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res.Root = md.RootDesc.Digest
	if err := checkExpiry(md.Manifest, opts.Now, opts.AllowExpired, "verify"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.SignatureOnly {
		return res, nil
	}
	log.Info("verifying content", "dir", path)
	if res.Content, err = verifyContent(ctx, dir, md, concurrency(opts.Concurrency)); err != nil {
		return nil, inBundle(path, err)
	}
	// A directory that a sign left half written holds sound content, but
	// copied across as it is, its SHA256SUMS or SHA256SUMS.sig fails on the
	// far side (verify-checksums, cosign verify-blob): refused here, as
	// pack and push refuse it.
	if err := checkSigningFinished(ctx, dir); err != nil {
		return nil, err
	}
	log.Info("content verified", "blobs", res.Content.Blobs, "bytes", res.Content.Bytes)
	return res, nil
}

// checkExpiry refuses a bundle past its expiresAt at now (zero: the
// clock) unless allowed; verb names what --allow-expired would let happen.
func checkExpiry(m *bundle.Manifest, now time.Time, allow bool, verb string) error {
	if now.IsZero() {
		now = time.Now()
	}
	if now.After(m.ExpiresAt) && !allow {
		return fmt.Errorf("bundle %s expired at %s (--allow-expired to %s it anyway): %w", m.BundleID, m.ExpiresAt.Format(time.RFC3339), verb, errdef.ErrExpired)
	}
	return nil
}
