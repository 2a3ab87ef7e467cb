package mirror

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// unkeyedSigning is what chooseUnkeyed keeps of a candidate beside the
// one it holds whole: its signatures and carried certificates, not its
// bytes.
type unkeyedSigning struct {
	c *signing
	// sigs holds each signature as keyid, NUL, signature bytes.
	sigs map[string]bool
	// certs holds the DER of every certificate its files carry.
	certs map[string]bool
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
//     its files carry every certificate theirs do (--trust-root reads
//     them);
//   - each of its own signatures is in all of them, or verifies with a
//     public key or certificate the signings carry whose id is its keyid
//     (the keyid is the key's digest, so that is the key anyone trusting
//     it holds): it holds no signature that could fail a key.
//
// A bundle signed again (two-person approval: sign keeps the envelope's
// signatures and adds one, and public-key.pem the keys) and pushed again
// is so read as its last push left it. Otherwise it is refused as usage,
// naming the root: --key (or --trust-root) picks the one that verifies.
func (rs *registrySource) chooseUnkeyed(ctx context.Context, root ocispec.Descriptor, candidates []*signing) (*signing, error) {
	manifest := rs.files[layout.ManifestFile]
	carried := map[string]*keys.Verifier{}
	var all []*unkeyedSigning
	var best *unkeyedSigning
	var skipped error
	for _, c := range candidates {
		if err := rs.loadSigning(ctx, c); err != nil {
			if !hostileContent(err) {
				return nil, err
			}
			rs.skipReferrer(c.sig.desc.Digest, err)
			skipped = cmp.Or(skipped, err)
			c.envelope, c.data = nil, nil
			continue
		}
		env, err := dsse.Parse(c.envelope)
		if err != nil || env.PayloadType != bundle.PayloadType || !bytes.Equal(env.Payload, manifest) {
			c.envelope, c.data = nil, nil
			continue
		}
		u := &unkeyedSigning{c: c, sigs: map[string]bool{}, certs: map[string]bool{}}
		for _, s := range env.Signatures {
			u.sigs[s.KeyID+"\x00"+string(s.Sig)] = true
		}
		carriedKeys(c.data, carried)
		for _, name := range []string{layout.CertificateFile, layout.CertificateChainFile} {
			certs, _ := keys.ParseCertificates(c.data[name])
			for _, cert := range certs {
				u.certs[string(cert.Raw)] = true
			}
		}
		all = append(all, u)
		// One candidate's bytes at a time beside the best's.
		if best == nil || u.before(best) {
			if best != nil {
				best.c.envelope, best.c.data = nil, nil
			}
			best = u
		} else {
			c.envelope, c.data = nil, nil
		}
	}
	if best == nil && skipped != nil {
		return nil, skipped
	}
	if best == nil || !best.covers(ctx, all, carried, dsse.PAE(bundle.PayloadType, manifest)) {
		return nil, ambiguousSignings(root, candidates, all)
	}
	rs.log.Info("the bundle root has several signature referrers (signed again and pushed again): reading the one that holds every signature of the others",
		"root", root.Digest, "signatures", len(candidates), "referrer", best.c.sig.desc.Digest,
		"envelopeSignatures", len(best.sigs), "withFiles", best.c.files != nil)
	return best.c, nil
}

// covers reports whether u holds every signature and certificate of all,
// and each of its signatures is in all of them or verifies over pae with
// the carried key of its keyid.
func (u *unkeyedSigning) covers(ctx context.Context, all []*unkeyedSigning, carried map[string]*keys.Verifier, pae []byte) bool {
	for _, o := range all {
		for s := range o.sigs {
			if !u.sigs[s] {
				return false
			}
		}
		for c := range o.certs {
			if !u.certs[c] {
				return false
			}
		}
	}
	for s := range u.sigs {
		common := true
		for _, o := range all {
			common = common && o.sigs[s]
		}
		if common {
			continue
		}
		keyID, sig, _ := strings.Cut(s, "\x00")
		v, ok := carried[keyID]
		if !ok || v.Verify(ctx, pae, []byte(sig)) != nil {
			return false
		}
	}
	return true
}

// carriedKeys adds to byID the public keys a signing's files carry
// (public-key.pem, the certificates' keys), by their key id. Where they
// come from does not matter: a key id is the digest of its key.
func carriedKeys(data map[string][]byte, byID map[string]*keys.Verifier) {
	pubs, _ := keys.ParsePublicKeys(data[layout.PublicKeyFile])
	certs, _ := keys.ParseCertificates(data[layout.CertificateFile])
	for _, c := range certs {
		pubs = append(pubs, c.PublicKey)
	}
	for _, p := range pubs {
		if v, err := keys.NewVerifier(p, layout.PublicKeyFile); err == nil {
			if _, ok := byID[v.KeyID()]; !ok {
				byID[v.KeyID()] = v
			}
		}
	}
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
		list := words[last]
		if last > 0 {
			list = strings.Join(words[:last], ", ") + " and " + words[last]
		}
		held = fmt.Sprintf("envelopes of %s signatures, none holding every signature of the others", list)
	}
	return fmt.Errorf("root %s has %d signature referrers (%s): without a trusted key, which one the far side's key accepts cannot be told, and anyone who may push to the repository can attach one; give the signer's --key (or --trust-root) to take the one that verifies: %w",
		root.Digest, len(candidates), held, errdef.ErrUsage)
}
