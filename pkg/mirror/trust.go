package mirror

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// TrustOptions say whose signatures are trusted. The zero value trusts
// nobody: every signature check fails.
type TrustOptions struct {
	// Keys are references of trusted public keys: PEM files (one or more
	// keys each), env://VAR, or KMS references (hashivault://).
	Keys []string
	// TrustRoots are PEM files of trusted root CAs. A signature also counts
	// when the bundle carries a certificate for its key (certificate.pem,
	// intermediates in certificate-chain.pem) that chains to one of them,
	// offline, valid now, for digital signature and code signing.
	TrustRoots []string
	// Threshold is how many distinct trusted keys must have signed; 0
	// means 1. Two-person approval is 2. A negative one, one above 1 with
	// nobody trusted, and (without TrustRoots) one above the distinct keys
	// Keys give are refused as usage (Check, and every verification).
	Threshold int
	// Now is the time certificates must be valid at; zero means the clock.
	Now time.Time
	// FlagPrefix prefixes the flag names errors give ("bundle-" where
	// --bundle-key and --bundle-threshold gave these options).
	FlagPrefix string

	// loaded are trusted keys already loaded, which count as Keys do: the
	// public half of a signing key (catalog's default trust), and Keys
	// loaded once (load) for the many roots of a bundle repository.
	loaded []*keys.Verifier
}

// Empty reports whether the options trust nobody.
func (t TrustOptions) Empty() bool {
	return len(t.Keys) == 0 && len(t.TrustRoots) == 0 && len(t.loaded) == 0
}

// load returns t with its Keys loaded, checked as every verification
// checks them: a reader that verifies many bundles with it (each root of
// a bundle repository) reads a key file, or asks a KMS for a public key,
// once, and a key that does not load fails it before the first request,
// rather than reading as a root that does not verify.
func (t TrustOptions) load(ctx context.Context) (TrustOptions, error) {
	if err := t.Check(); err != nil || t.Empty() {
		// Nobody trusted: nothing is verified (an unverified inventory),
		// whatever the threshold's default.
		return t, err
	}
	loaded := slices.Clip(t.loaded)
	for _, ref := range t.Keys {
		vs, err := t.loadKey(ctx, ref)
		if err != nil {
			return t, err
		}
		loaded = append(loaded, vs...)
	}
	t.loaded, t.Keys = loaded, nil
	// The threshold against the distinct keys, and the roots' files.
	if _, err := t.resolve(ctx, noFiles, nil); err != nil {
		return t, err
	}
	return t, nil
}

// loadKey loads the trusted keys ref names. A certificate given as a key
// (a root CA's) is refused naming the trust-root flag of t's own prefix
// (--bundle-trust-root), not keys' --trust-root.
func (t TrustOptions) loadKey(ctx context.Context, ref string) ([]*keys.Verifier, error) {
	vs, err := keys.LoadVerifiers(ctx, ref)
	if errors.Is(err, keys.ErrCertificateForKey) {
		return nil, fmt.Errorf("--%[1]skey %[2]s: %[3]v (a root CA's certificate is given with --%[1]strust-root): %[4]w", t.FlagPrefix, ref, keys.ErrCertificateForKey, errdef.ErrUsage)
	}
	return vs, err
}

// withKey returns t trusting v besides.
func (t TrustOptions) withKey(v *keys.Verifier) TrustOptions {
	t.loaded = append(slices.Clip(t.loaded), v)
	return t
}

// Check refuses trust options that cannot mean what they say, before
// anything is read: a negative threshold, and a threshold above 1 with
// nobody trusted. push, pull, sync and inspect verify only when trust is
// given, so without this they would skip the check the threshold asks for
// and report success. Both wrap errdef.ErrUsage.
func (t TrustOptions) Check() error {
	if t.Threshold < 0 {
		return fmt.Errorf("--%sthreshold %d: must be at least 1: %w", t.FlagPrefix, t.Threshold, errdef.ErrUsage)
	}
	if t.Threshold > 1 && t.Empty() {
		return fmt.Errorf("--%[1]sthreshold %[2]d needs --%[1]skey or --%[1]strust-root: with nobody trusted, no signature would be checked: %[3]w", t.FlagPrefix, t.Threshold, errdef.ErrUsage)
	}
	return nil
}

// SignatureResult says who signed a bundle.
type SignatureResult struct {
	PayloadType string `json:"payloadType"`
	// Signers are the distinct trusted keys whose signatures verified.
	Signers []Signer `json:"signers"`
	// Signatures counts the envelope's signatures; Untrusted those naming a
	// key that is not trusted (ignored).
	Signatures int `json:"signatures"`
	Untrusted  int `json:"untrusted"`
	Threshold  int `json:"threshold"`
}

// Signer is one trusted key that signed.
type Signer struct {
	KeyID string `json:"keyId"`
	// Source is the key reference, or the certificate, that made it
	// trusted.
	Source string `json:"source"`
}

// trustSet is TrustOptions resolved against one bundle.
type trustSet struct {
	verifiers []dsse.Verifier
	sources   map[string]string
	// subjects names the signer a certificate the bundle carries binds a
	// key to: keys certified to one subject are one signer.
	subjects map[string]string
	// refused says why certificates the bundle carries were not trusted.
	refused []string
}

// resolve loads the trusted keys, and the bundle's certificates (read
// through file) that chain to a trusted root. With signs non-nil, only
// the certificates it reports may have made a signature being verified
// are checked: the others can add no signer, and their chains would
// take from the budget of signature checks (keys.MaxChainChecks) that a
// bundle carrying many signers' certificates needs for the few that
// signed.
func (t TrustOptions) resolve(ctx context.Context, file func(string) ([]byte, error), signs func(leaf *x509.Certificate) bool) (*trustSet, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	ts := &trustSet{sources: map[string]string{}, subjects: map[string]string{}}
	add := func(v *keys.Verifier) {
		ts.verifiers = append(ts.verifiers, v)
		if _, ok := ts.sources[v.KeyID()]; !ok {
			ts.sources[v.KeyID()] = v.Source()
		}
	}
	for _, ref := range t.Keys {
		vs, err := t.loadKey(ctx, ref)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			add(v)
		}
	}
	for _, v := range t.loaded {
		add(v)
	}
	if len(t.TrustRoots) == 0 {
		// No bundle can meet a threshold above the distinct keys given:
		// the operator's mistake (exit 1), not a bad signature (exit 5,
		// "do not import, report it"). With TrustRoots the bundle's
		// certificates add signers, so the count is the bundle's.
		if distinct := len(ts.sources); t.Threshold > distinct {
			return nil, fmt.Errorf("--%[1]sthreshold %[2]d exceeds the %[3]d distinct trusted key(s) --%[1]skey gives (a key given twice, or as a file and as a reference, counts once): no bundle can meet it: %[4]w",
				t.FlagPrefix, t.Threshold, distinct, errdef.ErrUsage)
		}
		return ts, nil
	}
	roots, err := keys.LoadRoots(t.TrustRoots)
	if err != nil {
		return nil, err
	}
	leaves, chain, err := carriedCertificates(file)
	if err != nil {
		return nil, err
	}
	if len(leaves) == 0 {
		ts.refused = append(ts.refused, "the bundle carries no "+layout.CertificateFile)
	}
	now := t.Now
	if now.IsZero() {
		now = time.Now()
	}
	// One budget of signature checks for all the leaves: the
	// certificates are the bundle's, and hostile ones would otherwise
	// cost x509's bound for each leaf (keys.MaxChainChecks).
	chains := keys.NewChains(roots, chain, now)
	seen := map[string]bool{}
	for _, leaf := range leaves {
		if seen[string(leaf.Raw)] || (signs != nil && !signs(leaf)) {
			continue
		}
		seen[string(leaf.Raw)] = true
		err := chains.Verify(leaf)
		if errors.Is(err, keys.ErrTooManyChecks) {
			return nil, fmt.Errorf("the certificates it carries (%s, %s): %w", layout.CertificateFile, layout.CertificateChainFile, err)
		}
		if err != nil {
			ts.refused = append(ts.refused, err.Error())
			continue
		}
		v, err := keys.NewVerifier(leaf.PublicKey, "certificate "+leaf.Subject.String())
		if err != nil {
			ts.refused = append(ts.refused, err.Error())
			continue
		}
		add(v)
		if _, ok := ts.subjects[v.KeyID()]; !ok {
			if who := certifiedSigner(leaf); who != "" {
				ts.subjects[v.KeyID()] = who
			}
		}
	}
	return ts, nil
}

// certifiedSigner is who leaf certifies its key to: its subject, or where
// that is empty (a certificate naming its holder only in its subject
// alternative name, an email address, as Fulcio's do) those names, sorted.
// "" where it names no one: its key is then its own signer, not one with
// every other certificate that names no one.
func certifiedSigner(leaf *x509.Certificate) string {
	if subject := leaf.Subject.String(); subject != "" {
		return subject
	}
	names := slices.Concat(leaf.EmailAddresses, leaf.DNSNames)
	for _, u := range leaf.URIs {
		names = append(names, u.String())
	}
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

// checkDistinctSigners refuses a threshold met by keys certified to one
// subject: two keys of one person (an old and a new one, while a key is
// rotated) are one approval, not two. A key no certificate binds is its
// own signer.
func (ts *trustSet) checkDistinctSigners(accepted []string, threshold int) error {
	signers := map[string][]string{}
	named := map[string]string{} // a signer as first named
	for _, id := range accepted {
		who := id
		if subject, ok := ts.subjects[id]; ok {
			who = "certificate " + subject
		}
		// X.509 compares names ignoring case (RFC 5280 7.1, and the
		// host of a mail address or DNS name): "CN=Alice" and
		// "CN=alice" are one.
		key := strings.ToLower(who)
		if _, ok := named[key]; !ok {
			named[key] = who
		}
		signers[key] = append(signers[key], id)
	}
	if len(signers) >= threshold {
		return nil
	}
	var shared []string
	for key, ids := range signers {
		if len(ids) > 1 {
			shared = append(shared, fmt.Sprintf("%d keys certified to %q", len(ids), strings.TrimPrefix(named[key], "certificate ")))
		}
	}
	slices.Sort(shared)
	return fmt.Errorf("threshold %d not met: %d distinct signer(s) (%s are one signer each): %w", threshold, len(signers), strings.Join(shared, ", "), errdef.ErrSignature)
}

// carriedCertificates reads certificate.pem (signers' leaves) and
// certificate-chain.pem (intermediates); both are optional.
func carriedCertificates(file func(string) ([]byte, error)) (leaves, chain []*x509.Certificate, err error) {
	read := func(name string) ([]*x509.Certificate, error) {
		data, err := file(name)
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		certs, err := keys.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return certs, nil
	}
	if leaves, err = read(layout.CertificateFile); err != nil {
		return nil, nil, err
	}
	if chain, err = read(layout.CertificateChainFile); err != nil {
		return nil, nil, err
	}
	return leaves, chain, nil
}

// verifySignature checks the bundle's manifest.dsse against trust: a
// strict envelope, payloadType bundle.PayloadType, a payload equal to
// manifest.json byte for byte, and trust.Threshold distinct trusted
// signers. It reads only through md.File, so it works on a directory and
// on the head of a tar before anything is written. Errors wrap
// errdef.ErrSignature; an unparsable envelope errdef.ErrMalformed.
func (md *metadata) verifySignature(ctx context.Context, trust TrustOptions) (*SignatureResult, error) {
	return verifyBundleSignature(ctx, md.File, trust)
}

// verifySignature is verifyBundleSignature for a source, its errors
// prefixed with the archive, directory or reference the bundle was read
// from: the operator is told which bundle failed, as verify tells it.
func (s *source) verifySignature(ctx context.Context, trust TrustOptions) (*SignatureResult, error) {
	if err := trust.refuseCarried(s.name); err != nil {
		return nil, err
	}
	res, err := verifyBundleSignature(ctx, s.file, trust)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return res, nil
}

// verifyBundleSignature is verifySignature for a bundle not yet parsed:
// it reads manifest.dsse and manifest.json through file and checks the
// signature before anything interprets manifest.json, so a tampered
// manifest.json fails as a signature failure, not as a malformed bundle.
func verifyBundleSignature(ctx context.Context, file func(string) ([]byte, error), trust TrustOptions) (*SignatureResult, error) {
	data, err := file(layout.EnvelopeFile)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("bundle is not signed (no %s): %w", layout.EnvelopeFile, errdef.ErrSignature)
	}
	if err != nil {
		return nil, err
	}
	manifest, err := file(layout.ManifestFile)
	if err != nil {
		return nil, err
	}
	res, _, err := verifyEnvelope(ctx, data, bundle.PayloadType, manifest, file, trust)
	switch {
	case errors.Is(err, errOtherPayload):
		return nil, fmt.Errorf("%s does not sign this %s (its payload is other bytes): %w", layout.EnvelopeFile, layout.ManifestFile, errdef.ErrSignature)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", layout.EnvelopeFile, err)
	}
	return res, nil
}

// errOtherPayload marks an envelope whose signatures verify over other
// bytes than the document it came with.
var errOtherPayload = errors.New("the envelope signs other bytes than the document it came with")

// verifyEnvelope parses and verifies an envelope of payloadType. With
// payload non-nil, the envelope must sign exactly those bytes. file reads
// the certificates that travel with the envelope.
func verifyEnvelope(ctx context.Context, data []byte, payloadType string, payload []byte, file func(string) ([]byte, error), trust TrustOptions) (*SignatureResult, *dsse.Envelope, error) {
	env, err := dsse.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	named := map[string]bool{}
	for _, s := range env.Signatures {
		named[s.KeyID] = true
	}
	ts, err := trust.resolve(ctx, file, func(leaf *x509.Certificate) bool {
		id, err := keys.KeyID(leaf.PublicKey)
		return err != nil || named[id]
	})
	if err != nil {
		return nil, nil, err
	}
	threshold := max(trust.Threshold, 1)
	dres, err := env.Verify(ctx, ts.verifiers, threshold)
	if err != nil {
		if len(ts.refused) > 0 {
			err = fmt.Errorf("%w; certificates not trusted: %s", err, strings.Join(ts.refused, "; "))
		}
		return nil, nil, err
	}
	if env.PayloadType != payloadType {
		return nil, nil, fmt.Errorf("envelope payloadType %q is not %s: %w", env.PayloadType, payloadType, errdef.ErrSignature)
	}
	if payload != nil && !bytes.Equal(env.Payload, payload) {
		return nil, nil, fmt.Errorf("%w: %w", errOtherPayload, errdef.ErrSignature)
	}
	if err := ts.checkDistinctSigners(dres.Accepted, threshold); err != nil {
		return nil, nil, err
	}
	res := &SignatureResult{PayloadType: env.PayloadType, Signatures: len(env.Signatures), Untrusted: dres.Untrusted, Threshold: threshold}
	for _, id := range dres.Accepted {
		res.Signers = append(res.Signers, Signer{KeyID: id, Source: ts.sources[id]})
	}
	return res, env, nil
}

// noFiles is the file accessor of a document that carries no certificates.
func noFiles(name string) ([]byte, error) {
	return nil, fmt.Errorf("%s: %w", name, errdef.ErrNotFound)
}

// verifyDocument verifies the envelope of a signed document that carries
// no certificates (a catalog, an inventory, a volume list): it must sign
// exactly payload, with payloadType. Only --key can verify one, so trust
// of roots alone is refused as usage, not failed as a bad signature.
func verifyDocument(ctx context.Context, envelope []byte, payloadType string, payload []byte, trust TrustOptions) (*SignatureResult, error) {
	if len(trust.Keys) == 0 && len(trust.loaded) == 0 && len(trust.TrustRoots) > 0 {
		return nil, fmt.Errorf("it carries no certificate, so --%[1]strust-root cannot verify it: give its signer's public key with --%[1]skey: %[2]w", trust.FlagPrefix, errdef.ErrUsage)
	}
	res, _, err := verifyEnvelope(ctx, envelope, payloadType, payload, noFiles, trust)
	return res, err
}

// signDocument makes a DSSE envelope of payloadType over payload with the
// key ref names (inventories and catalogs; bundles go through Sign).
func signDocument(ctx context.Context, ref string, pass keys.PassFunc, payloadType string, payload []byte) ([]byte, error) {
	sign, err := documentSigner(ctx, ref, pass, payloadType)
	if err != nil {
		return nil, err
	}
	return sign(payload)
}

// documentSigner opens the key ref names, so that a key that does not open
// fails a command before it writes anything, and returns what signs a
// document of payloadType with it.
func documentSigner(ctx context.Context, ref string, pass keys.PassFunc, payloadType string) (func(payload []byte) ([]byte, error), error) {
	sign, _, err := documentSignerKey(ctx, ref, pass, payloadType)
	return sign, err
}

// documentSignerKey is documentSigner, and the signing key's public half
// as a trusted key.
func documentSignerKey(ctx context.Context, ref string, pass keys.PassFunc, payloadType string) (func(payload []byte) ([]byte, error), *keys.Verifier, error) {
	signer, err := keys.LoadSigner(ctx, ref, pass)
	if err != nil {
		return nil, nil, err
	}
	pub, err := keys.NewVerifier(signer.Public(), "the public half of "+ref)
	if err != nil {
		return nil, nil, err
	}
	return func(payload []byte) ([]byte, error) {
		env := dsse.New(payloadType, payload)
		if err := env.Sign(ctx, signer); err != nil {
			return nil, err
		}
		return env.Marshal()
	}, pub, nil
}
