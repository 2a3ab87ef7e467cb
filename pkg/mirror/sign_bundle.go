package mirror

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// signBundle writes the signed envelope into a verified bundle directory:
// the envelope and its referrer manifest as blobs, manifest.dsse,
// public-key.pem and the certificates, index.json listing the new referrer
// in place of the old, then removes every blob that neither the verified
// content (reached) nor the new referrer uses (the old referrer, leftovers
// of an interrupted run), and writes SHA256SUMS.sig and SHA256SUMS last.
// One that fails before it removes a blob puts back what it changed.
func signBundle(ctx context.Context, dir *layout.Dir, md *metadata, reached map[digest.Digest]bool, env *dsse.Envelope, data []byte,
	signer *keys.Signer, certs *certSet, created time.Time) (*SignedBundle, error) {
	if created.IsZero() {
		created = time.Now()
	}
	envDesc := ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromBytes(data), Size: int64(len(data))}
	ref, err := bundle.SignatureManifest(md.RootDesc, envDesc, created)
	if err != nil {
		return nil, err
	}
	// Until SHA256SUMS lists the new referrer, a sign that fails (disk
	// full, EIO, a KMS out of reach) puts the bundle back as it was: the blobs it added, which
	// nothing reaches yet, would fail verify (malformed) and
	// verify-checksums (not listed), and a new manifest.dsse beside the
	// old index.json would fail both, on a bundle that verified before.
	undo := snapshotSigned(dir)
	defer undo.run()
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{envDesc, data}, {bundle.EmptyConfig, bundle.EmptyConfigBytes}, {ref.Descriptor, ref.Bytes}} {
		had, err := dir.Exists(ctx, b.desc)
		if err != nil {
			return nil, err
		}
		if err := dir.PushBytes(ctx, b.desc, b.data); err != nil {
			return nil, err
		}
		if !had {
			undo.blobs = append(undo.blobs, dir.BlobPath(b.desc.Digest))
		}
	}
	// On disk, and their names, before index.json names them: a power
	// cut after it took its name left it naming a referrer whose data
	// never reached the disk (an empty blob), the old one removed.
	if err := dir.SyncBlobs(envDesc.Digest, bundle.EmptyConfig.Digest, ref.Descriptor.Digest); err != nil {
		return nil, err
	}
	if err := dir.WriteFile(layout.EnvelopeFile, data, 0o644); err != nil {
		return nil, err
	}
	if err := writePublicKeys(dir, env, signer); err != nil {
		return nil, err
	}
	if err := writeCertificates(dir.Path(), env, signer, certs); err != nil {
		return nil, err
	}
	index, err := md.index()
	if err != nil {
		return nil, err
	}
	idx := *index
	idx.Manifests = nil
	for _, d := range index.Manifests {
		if d.ArtifactType != bundle.ArtifactTypeDSSE || d.Annotations[ocispec.AnnotationRefName] != "" {
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	refDesc := ref.Descriptor
	refDesc.ArtifactType = bundle.ArtifactTypeDSSE
	idx.Manifests = append(idx.Manifests, refDesc)
	if err := dir.WriteIndex(&idx); err != nil {
		return nil, err
	}
	keep := map[digest.Digest]bool{refDesc.Digest: true, envDesc.Digest: true, bundle.EmptyConfig.Digest: true}
	for dg := range reached {
		keep[dg] = true
	}
	unreached, err := unreachedBlobs(dir, keep)
	if err != nil {
		return nil, err
	}
	// SHA256SUMS as it will be once the old referrer is removed, signed
	// and written while the undo still holds: a signer that fails (a KMS
	// out of reach) or a disk that fills puts the bundle back as it was,
	// where it left the new index.json beside the old SHA256SUMS (verify,
	// pack and push refused it until signed again).
	omit := map[digest.Digest]bool{}
	for _, dg := range unreached {
		omit[dg] = true
	}
	sums, err := dir.ChecksumsDataWithout(true, omit)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(ctx, sums)
	if err != nil {
		return nil, err
	}
	// The old referrer's blobs go before SHA256SUMS is written: a sign
	// stopped among them (killed, EIO) leaves the new index.json beside
	// the old SHA256SUMS, which verify, pack and push refuse as a sign
	// that did not finish, saying to run it again. Removed after it, they
	// were blobs no manifest reaches beside a SHA256SUMS that verified,
	// which verify, import and push refused as a malformed bundle with no
	// word of the sign. Once one is gone the undo could not put back the
	// index.json naming it: the next sign removes the rest.
	if len(unreached) > 0 {
		undo.done = true
	}
	if err := removeBlobs(dir, unreached); err != nil {
		return nil, err
	}
	// The signature takes its name before the list it signs: a sign
	// killed between the two leaves a signature over the new list beside
	// the old one, which pack and push refuse (checkSigningFinished),
	// never a new list with no signature or a stale one.
	if err := dir.WriteFile(layout.ChecksumsSigFile, []byte(base64.StdEncoding.EncodeToString(sig)), 0o644); err != nil {
		return nil, err
	}
	if err := dir.WriteFile(layout.ChecksumsFile, sums, 0o644); err != nil {
		return nil, err
	}
	undo.done = true
	return &SignedBundle{Dir: dir.Path(), Root: md.RootDesc, Referrer: refDesc}, nil
}

// unreachedBlobs lists every blob not in keep. Only blobs/sha256 is ours
// to tidy; the bundle was verified just before, and keep holds all it
// reaches plus the new signature. It is read a batch at a time, and more
// than maxUnreachedBlobs are refused as not part of the bundle: a sign
// leaves a few (the old signature's, what one killed before its end
// left), and a million stray files were listed whole, past 100 MiB.
func unreachedBlobs(dir *layout.Dir, keep map[digest.Digest]bool) ([]digest.Digest, error) {
	var out []digest.Digest
	err := dir.ReadDirEach(layout.BlobsDir+"/sha256", func(e fs.DirEntry) error {
		// Not a blob, nor ours to remove: refused as verify refuses it.
		// A directory (or link, or device) is no blob any sign wrote,
		// whatever its name: os.Remove took an empty directory named as a
		// digest without a word, and failed on a full one after the new
		// index.json was in place, the undo given up. It is named as what
		// it is before its name is read, as verify (checkNoStrayBlobs)
		// names it: a directory ._HEX is a directory, which no
		// AppleDouble remedy (find -delete) removes.
		rel := layout.BlobsDir + "/sha256/" + e.Name()
		if err := nonBlobError(filepath.Join(dir.Path(), filepath.FromSlash(rel)), e.Type()); err != nil {
			return err
		}
		if err := clutterError(rel, rel, dir.Path()); err != nil {
			return err
		}
		dg := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if dg.Validate() != nil {
			// No blob any sign wrote (notes, a copy's "HEX (1)", an
			// editor's backup): not ours to remove, and no part of the
			// bundle.
			return fmt.Errorf("%s: its name is no sha256 digest, so no blob of the bundle, and sign removes only blobs: not part of the bundle: move it out of the bundle directory: %w", filepath.Join(dir.Path(), filepath.FromSlash(rel)), errdef.ErrMalformed)
		}
		if !keep[dg] {
			if out = append(out, dg); len(out) > maxUnreachedBlobs {
				return errEnoughStray
			}
		}
		return nil
	})
	if errors.Is(err, errEnoughStray) {
		return nil, fmt.Errorf("%s: no manifest of the bundle reaches it, nor over %d other blobs there: more than any sign leaves, so sign removes none of them: not part of the bundle: %w",
			dir.BlobPath(out[0]), maxUnreachedBlobs, errdef.ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxUnreachedBlobs bounds the blobs nothing reaches that sign removes:
// two or three each sign leaves, many times over.
const maxUnreachedBlobs = 4096

// removeBlobs deletes the blobs dgs.
func removeBlobs(dir *layout.Dir, dgs []digest.Digest) error {
	for _, dg := range dgs {
		if err := os.Remove(dir.BlobPath(dg)); err != nil {
			return err
		}
	}
	return nil
}

// writePublicKeys writes public-key.pem: the signer's key first (the key
// of SHA256SUMS.sig, which `cosign verify-blob --key public-key.pem` reads
// as the file's first key), then the keys of the envelope's other signers
// that the file already held.
func writePublicKeys(dir *layout.Dir, env *dsse.Envelope, signer *keys.Signer) error {
	out, err := signer.PublicKeyPEM()
	if err != nil {
		return err
	}
	signed := signerIDs(env)
	seen := map[string]bool{signer.KeyID(): true}
	if data, err := dir.ReadFile(layout.PublicKeyFile); err == nil {
		if pubs, err := keys.ParsePublicKeys(data); err == nil {
			for _, p := range pubs {
				id, err := keys.KeyID(p)
				if err != nil || seen[id] || !signed[id] {
					continue
				}
				seen[id] = true
				pemBytes, err := keys.PublicKeyPEM(p)
				if err != nil {
					return err
				}
				out = append(out, pemBytes...)
			}
		}
	}
	return dir.WriteFile(layout.PublicKeyFile, out, 0o644)
}

func signerIDs(env *dsse.Envelope) map[string]bool {
	ids := map[string]bool{}
	for _, s := range env.Signatures {
		ids[s.KeyID] = true
	}
	return ids
}

// writeCertificates writes, in directory dir, certificate.pem (the leaves
// of the envelope's signers, the current signer's first) and
// certificate-chain.pem (their intermediates, each once). Earlier signers'
// certificates are kept while their signatures are (refused, where those
// files do not parse); with no leaf left, both files are removed.
func writeCertificates(dir string, env *dsse.Envelope, signer *keys.Signer, certs *certSet) error {
	signed := signerIDs(env)
	var leaves, chain []*x509.Certificate
	if certs != nil {
		leaves = append(leaves, certs.leaf)
		chain = append(chain, certs.chain...)
	}
	oldLeaves, oldChain, err := carriedCertificates(fileReader(dir))
	if err != nil {
		// A file of them that does not parse (a damaged PEM block) would
		// drop the certificates of the signers whose signatures are
		// kept, and verify --trust-root then no longer count them.
		for id := range signed {
			if id != signer.KeyID() {
				return fmt.Errorf("%s: the certificates of the envelope's other signers cannot be kept (restore the file from a copy, or remove %s and have every signer sign again): %w", dir, layout.EnvelopeFile, err)
			}
		}
	}
	for _, c := range oldLeaves {
		if id, err := keys.KeyID(c.PublicKey); err == nil && signed[id] && id != signer.KeyID() {
			leaves = append(leaves, c)
			chain = append(chain, oldChain...)
		}
	}
	chain = uniqueCerts(chain)
	certPath, chainPath := filepath.Join(dir, layout.CertificateFile), filepath.Join(dir, layout.CertificateChainFile)
	if len(leaves) == 0 {
		return removeIfExists(certPath, chainPath)
	}
	if err := layout.WriteFileAtomic(certPath, keys.CertificatesPEM(leaves), 0o644); err != nil {
		return err
	}
	if len(chain) == 0 {
		return removeIfExists(chainPath)
	}
	return layout.WriteFileAtomic(chainPath, keys.CertificatesPEM(chain), 0o644)
}

func uniqueCerts(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		dup := false
		for _, o := range out {
			dup = dup || bytes.Equal(o.Raw, c.Raw)
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// fileReader reads the small files beside an envelope (certificates),
// bounded like every other document.
func fileReader(dir string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		f, err := layout.OpenRegular(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", name, errdef.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readBounded(f, bundle.MaxManifestSize, name)
	}
}

func removeIfExists(paths ...string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// signUndo is what a sign of a bundle puts back when it fails before it
// removes a blob or SHA256SUMS lists the new referrer: the files it
// rewrites as they were, and the blobs it added removed.
type signUndo struct {
	dir *layout.Dir
	// old holds each file's content before the sign; nil for a file that
	// was not there. A file that could not be read is not held, and left.
	old   map[string][]byte
	blobs []string
	done  bool
}

// signedFiles are the files of a bundle that signBundle writes or removes
// before SHA256SUMS lists the new referrer.
var signedFiles = []string{layout.EnvelopeFile, layout.PublicKeyFile, layout.CertificateFile, layout.CertificateChainFile, layout.OCILayoutFile, layout.IndexFile, layout.ChecksumsSigFile, layout.ChecksumsFile}

func snapshotSigned(dir *layout.Dir) *signUndo {
	u := &signUndo{dir: dir, old: map[string][]byte{}}
	for _, name := range signedFiles {
		data, err := dir.ReadFile(name)
		switch {
		case err == nil:
			u.old[name] = data
		case errors.Is(err, errdef.ErrNotFound):
			u.old[name] = nil
		}
	}
	return u
}

// run puts the bundle back, unless done: index.json first, so that it never
// names a blob removed, then the blobs, so that a disk the sign filled has
// their room for the files put back last.
func (u *signUndo) run() {
	if u.done {
		return
	}
	if !u.restore(layout.IndexFile) {
		return // it may name them still: the next sign removes them
	}
	for _, p := range u.blobs {
		os.Remove(p)
	}
	for _, name := range signedFiles {
		if name != layout.IndexFile {
			u.restore(name)
		}
	}
}

// restore puts back the file name as it was, if it was held and differs,
// and says whether it is as it was.
func (u *signUndo) restore(name string) bool {
	old, held := u.old[name]
	if !held {
		return false
	}
	cur, err := u.dir.ReadFile(name)
	switch {
	case old == nil && errors.Is(err, errdef.ErrNotFound):
		return true
	case old == nil:
		return os.Remove(filepath.Join(u.dir.Path(), name)) == nil
	case err == nil && bytes.Equal(cur, old):
		return true
	default:
		return u.dir.WriteFile(name, old, 0o644) == nil
	}
}
