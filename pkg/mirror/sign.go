package mirror

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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

// SignOptions say what to sign with which key.
type SignOptions struct {
	// Manifest is the manifest.json to sign. Required.
	Manifest string
	// Output is the envelope to write; empty means manifest.dsse beside
	// Manifest. An envelope already there over the same bytes keeps its
	// signatures by other keys (two-person approval), each first verified
	// with its key in the public-key.pem beside it (errdef.ErrSignature if
	// one does not verify, or in a bundle has no key there); over other
	// bytes it is replaced.
	//
	// When Manifest is the manifest.json of a bundle directory and Output
	// its manifest.dsse, the bundle is updated too: it must verify deeply
	// first, then the envelope is attached as a referrer of the root,
	// public-key.pem, SHA256SUMS and SHA256SUMS.sig are rewritten.
	Output string
	// Key is the private key reference (keys.LoadSigner). Required.
	Key string
	// Password supplies the password of an encrypted key; nil means none
	// can be had.
	Password keys.PassFunc
	// Certificate is a PEM file whose first certificate is the signing
	// key's; CertificateChain a PEM file of its intermediates (and root).
	// They are carried beside the envelope (certificate.pem,
	// certificate-chain.pem) for verification against a trust root.
	Certificate      string
	CertificateChain string
	// Created is the signature referrer's creation time; zero means now.
	Created time.Time
	// Concurrency bounds the parallel hashing of the deep verification;
	// zero means the default.
	Concurrency int
	// Logger receives progress logs; nil discards them. No key material or
	// password is ever logged.
	Logger *slog.Logger
}

// SignResult is what Sign wrote.
type SignResult struct {
	// Envelope is the path of the envelope written.
	Envelope string `json:"envelope"`
	KeyID    string `json:"keyId"`
	// Signatures counts the envelope's signatures, this one included.
	Signatures int `json:"signatures"`
	// Bundle is set when a bundle directory was updated.
	Bundle *SignedBundle `json:"bundle,omitempty"`
}

// SignedBundle is what signing did to a bundle directory.
type SignedBundle struct {
	Dir      string             `json:"dir"`
	Root     ocispec.Descriptor `json:"root"`
	Referrer ocispec.Descriptor `json:"referrer"`
	Content  *ContentResult     `json:"verified"`
}

// Sign writes (or adds a signature to) the DSSE envelope of a
// manifest.json, as plan §2.3 has it: payloadType bundle.PayloadType, the
// exact bytes of manifest.json as payload, the key's id and its signature
// over the PAE. See SignOptions for what happens in a bundle directory.
func Sign(ctx context.Context, opts SignOptions) (*SignResult, error) {
	log := logger(opts.Logger)
	if opts.Manifest == "" {
		return nil, fmt.Errorf("sign: no manifest.json given: %w", errdef.ErrUsage)
	}
	if opts.Key == "" {
		return nil, fmt.Errorf("sign: no --key given: %w", errdef.ErrUsage)
	}
	if opts.CertificateChain != "" && opts.Certificate == "" {
		return nil, fmt.Errorf("sign: --certificate-chain needs --certificate: %w", errdef.ErrUsage)
	}
	output := opts.Output
	if output == "" {
		output = filepath.Join(filepath.Dir(opts.Manifest), layout.EnvelopeFile)
	}
	// The envelope given as the file to sign (sign DIR/manifest.dsse, as
	// verify takes it), or the file signed as --output: the envelope
	// would be written over what it signs, and the signatures an envelope
	// held lost.
	if sameFile(opts.Manifest, output) {
		return nil, fmt.Errorf("sign %s --output %s: the envelope would be written over the file it signs: give the bundle's manifest.json, and its envelope as --output (DIR/manifest.json --output DIR/manifest.dsse): %w", opts.Manifest, output, errdef.ErrUsage)
	}
	// A bundle directory's envelope signs its manifest.json, and nothing
	// else: another file signed into it (sign DIR/index.json) replaced
	// the bundle's signatures with one over that file.
	if d := filepath.Dir(output); filepath.Base(output) == layout.EnvelopeFile && !sameFile(opts.Manifest, filepath.Join(d, layout.ManifestFile)) {
		if _, err := os.Lstat(filepath.Join(d, layout.OCILayoutFile)); err == nil {
			return nil, fmt.Errorf("sign %s --output %s: that is the envelope of the bundle in %s, which signs its manifest.json only: give %s: %w", opts.Manifest, output, d, filepath.Join(d, layout.ManifestFile), errdef.ErrUsage)
		}
	}
	// Another name in a bundle directory as --output: a file of the
	// bundle (public-key.pem, SHA256SUMS: a completion away from
	// manifest.dsse) is no envelope, and one would be written over it, or
	// it refused with the advice to remove it, after which the bundle no
	// longer verifies; a new name (new.dsse) was signed as outside a
	// bundle, the envelope a file no part of the bundle and the
	// certificates written over the bundle's, SHA256SUMS not updated.
	if d := filepath.Dir(output); filepath.Base(output) != layout.EnvelopeFile {
		if _, err := os.Lstat(filepath.Join(d, layout.OCILayoutFile)); err == nil {
			what := "a name in the bundle directory " + d
			if _, err := os.Lstat(output); err == nil {
				what = "a file of the bundle in " + d
			}
			return nil, fmt.Errorf("sign %s --output %s: that is %s, not its envelope: give --output %s, or an --output outside it: %w", opts.Manifest, output, what, filepath.Join(d, layout.EnvelopeFile), errdef.ErrUsage)
		}
	}
	// The key first: a wrong password fails before a long verification.
	signer, err := keys.LoadSigner(ctx, opts.Key, opts.Password)
	if err != nil {
		return nil, err
	}
	log.Info("signing key loaded", "keyid", signer.KeyID(), "ref", signer.Ref())
	warnMismatchedPair(opts.Key, signer.KeyID(), log)
	certs, err := signerCertificates(opts, signer)
	if err != nil {
		return nil, err
	}
	// From the first read to the last write, under the directory's
	// writers' lock: two signers at once each read the envelope and add
	// their signature, and in a bundle rewrite index.json, the referrer
	// blobs and SHA256SUMS; unlocked, one signature would be lost and the
	// files interleaved. The later signer waits and signs after the first.
	outDir := filepath.Dir(output)
	unlock, err := writeLock(ctx, outDir, log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir, err := bundleDirOf(opts.Manifest, output)
	if err != nil {
		return nil, err
	}
	if dir != nil {
		defer dir.Close()
	}
	var payload []byte
	var md *metadata
	if dir != nil {
		// A sign killed before its renames left its temporaries: they
		// are not part of the bundle, and would stop this run.
		if err := dir.RemoveTemporaries(); err != nil {
			return nil, err
		}
		if md, err = readMetadata(ctx, dir.ReadFile, dir.FetchBytes); err != nil {
			return nil, err
		}
		if payload, err = md.manifestBytes(); err != nil {
			return nil, err
		}
		// Signed all the same (a signature is no import), but said: every
		// far side refuses it, and only there would it be found out.
		if m := md.Manifest; time.Now().After(m.ExpiresAt) {
			log.Warn(fmt.Sprintf("bundle %s expired at %s: import, serve, push, sync and verify will refuse it (exit 3) unless --allow-expired; create it again with a later --created or a longer --valid-for",
				m.BundleID, m.ExpiresAt.UTC().Format(time.RFC3339)))
		}
	} else if payload, err = readManifestFile(opts.Manifest); err != nil {
		return nil, err
	}
	var content *ContentResult
	var reached map[digest.Digest]bool
	if dir != nil {
		log.Info("verifying the bundle before signing it", "dir", dir.Path())
		if content, reached, err = walkContent(ctx, dir, md, concurrency(opts.Concurrency), true); err != nil {
			return nil, fmt.Errorf("refusing to sign a bundle that does not verify: %w", err)
		}
	}
	env, err := envelopeFor(output, payload, log)
	if err != nil {
		return nil, err
	}
	read := fileReader(outDir)
	if dir != nil {
		read = dir.ReadFile
	}
	if err := checkKeptSignatures(ctx, env, signer.KeyID(), output, read, dir != nil, log); err != nil {
		return nil, err
	}
	if err := env.Sign(ctx, signer); err != nil {
		return nil, err
	}
	data, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	res := &SignResult{Envelope: output, KeyID: signer.KeyID(), Signatures: len(env.Signatures)}
	if dir == nil {
		od := filepath.Dir(output)
		if err := removeStaleOutputs(output, filepath.Join(od, layout.CertificateFile), filepath.Join(od, layout.CertificateChainFile)); err != nil {
			return nil, err
		}
		// The certificates go after the envelope: one that fails to be
		// written (disk full, EIO) puts the envelope and certificates back
		// as they were, not the new envelope beside the old signers'
		// certificates, or a new certificate.pem without its chain.
		putBack := holdFiles(od, filepath.Base(output), layout.CertificateFile, layout.CertificateChainFile)
		if err := layout.WriteFileAtomic(output, data, 0o644); err != nil {
			return nil, err
		}
		if certs != nil {
			if err := writeCertificates(filepath.Dir(output), env, signer, certs); err != nil {
				putBack()
				return nil, err
			}
		}
		log.Info("envelope written", "path", output, "signatures", len(env.Signatures))
		return res, nil
	}
	if res.Bundle, err = signBundle(ctx, dir, md, reached, env, data, signer, certs, opts.Created); err != nil {
		return nil, err
	}
	// The signature's blobs and files on disk before "signed" is said.
	if err := dir.SyncAll(); err != nil {
		return nil, err
	}
	res.Bundle.Content = content
	log.Info("bundle signed", "dir", dir.Path(), "referrer", res.Bundle.Referrer.Digest, "signatures", len(env.Signatures))
	return res, nil
}

// holdFiles reads the files names of dir and returns what writes them back
// as they were (one that was not there removed). A file that could not be
// read is not held, and left as it is then.
func holdFiles(dir string, names ...string) func() {
	read := fileReader(dir)
	old := map[string][]byte{}
	for _, name := range names {
		data, err := read(name)
		switch {
		case err == nil:
			old[name] = data
		case errors.Is(err, errdef.ErrNotFound):
			old[name] = nil
		}
	}
	return func() {
		for name, data := range old {
			path := filepath.Join(dir, name)
			if data == nil {
				_ = removeIfExists(path)
				continue
			}
			if cur, err := read(name); err != nil || !bytes.Equal(cur, data) {
				_ = layout.WriteFileAtomic(path, data, 0o644)
			}
		}
	}
}

// bundleDirOf returns the bundle directory when manifest is a bundle's
// manifest.json and output that bundle's manifest.dsse; nil otherwise.
func bundleDirOf(manifest, output string) (*layout.Dir, error) {
	d := filepath.Dir(manifest)
	if filepath.Base(manifest) != layout.ManifestFile || filepath.Clean(output) != filepath.Join(d, layout.EnvelopeFile) {
		return nil, nil
	}
	if _, err := os.Lstat(filepath.Join(d, layout.OCILayoutFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return layout.Open(d)
}

// sameFile reports whether a and b name one file: the same path, or, both
// there, one file under two names (a link).
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// readManifestFile reads a manifest.json outside a bundle: at most
// bundle.MaxManifestSize bytes of JSON.
func readManifestFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, errdef.ErrNotFound)
	}
	defer f.Close()
	data, err := readBounded(f, bundle.MaxManifestSize, path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s: not JSON: %w", path, errdef.ErrMalformed)
	}
	return data, nil
}

// envelopeFor returns the envelope to add a signature to: the one at path
// if it signs payload (its signatures kept), else a new one.
func envelopeFor(path string, payload []byte, log *slog.Logger) (*dsse.Envelope, error) {
	data, err := fileReader(filepath.Dir(path))(filepath.Base(path))
	if errors.Is(err, errdef.ErrNotFound) {
		return dsse.New(bundle.PayloadType, payload), nil
	}
	if err != nil {
		return nil, err
	}
	old, err := dsse.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: existing envelope: %w (remove it to start afresh)", path, err)
	}
	if old.PayloadType != bundle.PayloadType || string(old.Payload) != string(payload) {
		log.Warn("replacing an envelope that signs other content", "path", path, "signatures", len(old.Signatures))
		return dsse.New(bundle.PayloadType, payload), nil
	}
	return old, nil
}

// signerCertificates loads --certificate and --certificate-chain and checks
// that the certificate is the signing key's.
func signerCertificates(opts SignOptions, signer *keys.Signer) (*certSet, error) {
	if opts.Certificate == "" {
		return nil, nil
	}
	leaves, err := keys.LoadCertificates(opts.Certificate)
	if err != nil {
		return nil, fmt.Errorf("--certificate: %w", err)
	}
	id, err := keys.KeyID(leaves[0].PublicKey)
	if err != nil || id != signer.KeyID() {
		return nil, fmt.Errorf("--certificate %s: its public key is not the signing key's (%s): %w", opts.Certificate, signer.KeyID(), errdef.ErrUsage)
	}
	cs := &certSet{leaf: leaves[0], chain: leaves[1:]}
	if opts.CertificateChain != "" {
		chain, err := keys.LoadCertificates(opts.CertificateChain)
		if err != nil {
			return nil, fmt.Errorf("--certificate-chain: %w", err)
		}
		cs.chain = append(cs.chain, chain...)
	}
	// A certificate that expired, or may not sign code, would be refused
	// by every verify --trust-root: refused here, before the media
	// carry the bundle across, not there.
	if err := keys.CheckSigningCertificate(cs.leaf, cs.chain, time.Now()); err != nil {
		return nil, fmt.Errorf("--certificate %s: %w", opts.Certificate, err)
	}
	return cs, nil
}

// certSet is a signer's certificate and its chain.
type certSet struct {
	leaf  *x509.Certificate
	chain []*x509.Certificate
}
