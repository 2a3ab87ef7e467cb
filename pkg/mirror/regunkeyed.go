package mirror

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// unkeyedSigning is what chooseUnkeyed keeps of a candidate beside the
// one it holds whole: the digests of its signatures, not its bytes (a
// listing of transfer.MaxReferrers envelopes of dsse.MaxSignatures each is
// a few MiB so, not hundreds).
type unkeyedSigning struct {
	c *signing
	// sigs holds the digest of each signature's keyid, NUL, bytes.
	sigs map[digest.Digest]bool
}

// sigDigest names one signature of an envelope: keyid and bytes.
func sigDigest(s dsse.Signature) digest.Digest {
	return digest.FromBytes(append([]byte(s.KeyID+"\x00"), s.Sig...))
}

// before orders candidates: the most distinct signatures, then one with
// its files, the latest created annotation, the lowest referrer digest.
func (a *unkeyedSigning) before(b *unkeyedSigning) bool {
	switch {
	case len(a.sigs) != len(b.sigs):
		return len(a.sigs) > len(b.sigs)
	case (a.c.files != nil) != (b.c.files != nil):
		return a.c.files != nil
	case !a.c.sig.created.Equal(b.c.sig.created):
		return a.c.sig.created.After(b.c.sig.created)
	}
	return a.c.sig.desc.Digest < b.c.sig.desc.Digest
}

// chooseUnkeyed picks, with no trusted key, among several signings of the
// root, for a reader that carries the envelope on: pull writes it as
// manifest.dsse, sync copies it, and the far side's key then accepts it or
// not. Anyone who may push to the source repository can attach an envelope
// over the same manifest.json, with more signatures (their own keys, or
// junk under the signer's keyid, which fails the whole envelope for that
// key); a count cannot pick.
//
// An envelope that does not parse, or signs other bytes than this
// manifest.json, verifies with no key and is left out. Of the others, one
// is taken only if every key (and threshold) that accepts any of them
// accepts it too:
//   - it holds every signature of every other, byte for byte (a copy of a
//     signature over the same payload verifies as the original does), and
//     its files carry every certificate theirs do, each in the same file
//     (--trust-root takes signers' certificates from certificate.pem
//     alone, intermediates from certificate-chain.pem, and fails on
//     either if it does not parse);
//   - each of its own signatures is in all of them, or verifies with a
//     public key or certificate its own files carry whose id is its keyid
//     (the keyid is the key's digest, so that is the key anyone trusting
//     it holds): it holds no signature that could fail a key.
//
// A bundle signed again (two-person approval: sign keeps the envelope's
// signatures and adds one, and public-key.pem and the certificates the
// keys) and pushed again is so read as its last push left it. Otherwise it
// is refused as usage, naming the root: --key (or --trust-root) picks the
// one that verifies.
func (rs *registrySource) chooseUnkeyed(ctx context.Context, root ocispec.Descriptor, candidates []*signing) (*signing, error) {
	manifest := rs.files[layout.ManifestFile]
	var all []*unkeyedSigning
	var best *unkeyedSigning
	_, skipped, err := rs.bestLoaded(ctx, candidates, func(c *signing) bool {
		env, err := dsse.Parse(c.envelope)
		if err != nil || env.PayloadType != bundle.PayloadType || !bytes.Equal(env.Payload, manifest) {
			return false
		}
		u := &unkeyedSigning{c: c, sigs: map[digest.Digest]bool{}}
		for _, s := range env.Signatures {
			u.sigs[sigDigest(s)] = true
		}
		all = append(all, u)
		if best != nil && !u.before(best) {
			return false
		}
		best = u
		return true
	})
	switch {
	case err != nil:
		return nil, err
	case best == nil && skipped != nil:
		return nil, skipped
	case best == nil:
		return nil, ambiguousSignings(root, candidates, all)
	}
	if ok, err := rs.covers(ctx, best, all, dsse.PAE(bundle.PayloadType, manifest)); err != nil || !ok {
		return nil, cmp.Or(err, ambiguousSignings(root, candidates, all))
	}
	rs.log.Info("the bundle root has several signature referrers (signed again and pushed again): reading the one that holds every signature of the others",
		"root", root.Digest, "signatures", len(candidates), "referrer", best.c.sig.desc.Digest,
		"envelopeSignatures", len(best.sigs), "withFiles", best.c.files != nil)
	return best.c, nil
}

// covers reports whether best holds every signature of all, each of its
// own is in all of them or verifies over pae with the key of its keyid
// that its files carry, and its files carry every certificate the files
// of all do, in the same file (read again, one signing's at a time).
func (rs *registrySource) covers(ctx context.Context, best *unkeyedSigning, all []*unkeyedSigning, pae []byte) (bool, error) {
	for _, o := range all {
		for s := range o.sigs {
			if !best.sigs[s] {
				return false, nil
			}
		}
	}
	env, err := dsse.Parse(best.c.envelope)
	if err != nil {
		return false, nil
	}
	carried := carriedKeys(best.c.data)
	for _, s := range env.Signatures {
		common := true
		for _, o := range all {
			common = common && o.sigs[sigDigest(s)]
		}
		if common {
			continue
		}
		v, ok := carried[s.KeyID]
		if !ok || v.Verify(ctx, pae, s.Sig) != nil {
			return false, nil
		}
	}
	// File by file: --trust-root takes signers' certificates from
	// certificate.pem alone, intermediates from certificate-chain.pem.
	// A file of them that does not parse fails every such reader.
	held := map[string]bool{}
	for _, name := range certFiles {
		data, ok := best.c.data[name]
		if !ok {
			continue
		}
		certs, err := keys.ParseCertificates(data)
		if err != nil {
			return false, nil
		}
		for _, cert := range certs {
			held[name+"@"+digest.FromBytes(cert.Raw).String()] = true
		}
	}
	for _, o := range all {
		if o == best || o.c.files == nil {
			continue
		}
		for _, name := range certFiles {
			l, ok := o.c.files.layers[name]
			if !ok {
				continue
			}
			data, err := rs.blob(ctx, l)
			if err != nil {
				return false, err
			}
			for _, cert := range parseCerts(data) {
				if !held[name+"@"+digest.FromBytes(cert.Raw).String()] {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

// certFiles are the files of a signing that carry certificates: the
// signers' (leaves) and their intermediates.
var certFiles = []string{layout.CertificateFile, layout.CertificateChainFile}

// parseCerts parses a file of certificates. One that does not parse
// carries none (no reader could trust them).
func parseCerts(data []byte) []*x509.Certificate {
	certs, _ := keys.ParseCertificates(data)
	return certs
}

// carriedKeys returns the public keys a signing's files carry
// (public-key.pem, the certificates' keys) by their key id: the digest of
// the key, so that a key of that id is the key itself.
func carriedKeys(data map[string][]byte) map[string]*keys.Verifier {
	byID := map[string]*keys.Verifier{}
	pubs := carriedPublicKeys(data[layout.PublicKeyFile])
	for _, c := range parseCerts(data[layout.CertificateFile]) {
		pubs = append(pubs, c.PublicKey)
	}
	for _, p := range pubs {
		if v, err := keys.NewVerifier(p, layout.PublicKeyFile); err == nil {
			if _, ok := byID[v.KeyID()]; !ok {
				byID[v.KeyID()] = v
			}
		}
	}
	return byID
}

// maxCarriedKeys bounds the keys read of a signing's public-key.pem, as
// keys.ParsePublicKeys bounds a file of keys.
const maxCarriedKeys = 64

// carriedPublicKeys returns the keys of the "PUBLIC KEY" blocks of a
// signing's public-key.pem that decode, passing over any that does not.
// A carried key is only ever matched by its keyid, the key's digest, so a
// damaged block loses its own key and stands for no other: the signer's
// key of SHA256SUMS.sig, in a block of its own, still verifies it, and the
// signing is still the signer's. (keys.ParsePublicKeys, which refuses the
// whole file, reads keys to trust, where one short is a keyring changed;
// whoever checks the file itself names the damage, exit 11.)
func carriedPublicKeys(data []byte) []crypto.PublicKey {
	var out []crypto.PublicKey
	for len(out) < maxCarriedKeys {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		if p, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ambiguousSignings is chooseUnkeyed's refusal: one line naming the root,
// how many signature referrers it has and how many signatures their
// envelopes of this manifest.json hold.
func ambiguousSignings(root ocispec.Descriptor, candidates []*signing, all []*unkeyedSigning) error {
	var counts []int
	for _, u := range all {
		if !slices.Contains(counts, len(u.sigs)) {
			counts = append(counts, len(u.sigs))
		}
	}
	slices.Sort(counts)
	held := "none of them an envelope of this manifest.json"
	if len(counts) > 0 {
		var words []string
		for _, n := range counts {
			words = append(words, strconv.Itoa(n))
		}
		last := len(words) - 1
		list := words[last] + " signatures each"
		if counts[0] == 1 && last == 0 {
			list = "1 signature each"
		}
		if last > 0 {
			list = strings.Join(words[:last], ", ") + " and " + words[last] + " signatures"
		}
		held = fmt.Sprintf("envelopes of %s, none holding every signature of the others", list)
	}
	return fmt.Errorf("root %s has %d signature referrers (%s): without a trusted key, which one the far side's key accepts cannot be told, and anyone who may push to the repository can attach one; give the signer's --key (or --trust-root) to take the one that verifies: %w",
		root.Digest, len(candidates), held, errdef.ErrUsage)
}
