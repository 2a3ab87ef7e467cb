package keys

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/mirror/pkg/errdef"
)

// MaxChainChecks bounds the signature checks that verifying the
// certificates one bundle carries may take, all its leaves together. The
// certificates are the bundle's, hostile: x509 bounds its own checks per
// leaf (100), and a bundle carrying 64 leaves under a CA whose name 62
// other CAs of P-521 keys share made verify --trust-root check some 9,000
// signatures (23 s) before it looked at one of the envelope's. A real
// bundle takes a few per signer: its leaf's issuer, the issuer's, a root;
// some 12 where its root was re-keyed (a self-signed and a cross-signed
// certificate of one name), and an envelope holds up to 32 signatures
// (dsse.MaxSignatures): 16 for each.
const MaxChainChecks = 512

// maxPaths bounds the candidate paths tried for one leaf: more than one
// only where CAs of one name issue each other (a cross-signed or re-keyed
// CA), a handful at most.
const maxPaths = 8

// maxX509Checks is x509's own bound of the signature checks of one
// Verify (maxChainSignatureChecks), the most x509Checks charges.
const maxX509Checks = 100

// ErrTooManyChecks marks certificates whose verification would take more
// than MaxChainChecks signature checks. It wraps errdef.ErrSignature: the
// bundle is refused whole, not one of its certificates.
var ErrTooManyChecks = fmt.Errorf("verifying them takes more than %d signature checks (a crafted chain: many CA certificates of one name, or issuing each other): %w", MaxChainChecks, errdef.ErrSignature)

// Chains verifies, offline and at one time, the signing certificates that
// one bundle carries against trusted roots, through the intermediates it
// carries, within one budget of MaxChainChecks signature checks shared by
// all its leaves. The paths from a leaf are found here, each signature of
// the intermediates checked once (an issuer is looked for among the
// certificates of the name the child names as its issuer, as x509 does),
// and x509 verifies each path alone, so that its checks are counted too.
type Chains struct {
	roots, intermediates []*x509.Certificate
	rootPool             *x509.CertPool
	now                  time.Time
	// unanchored is the reason given where no path reaches a root.
	unanchored string
	// issued caches whether an issuer's key made a child's signature.
	issued map[[2][sha256.Size]byte]bool
	checks int
}

// NewChains returns a Chains of roots and intermediates (each given once
// however often it is given) at time now.
func NewChains(roots, intermediates []*x509.Certificate, now time.Time) *Chains {
	cs := &Chains{rootPool: x509.NewCertPool(), now: now, unanchored: "does not chain to a trusted root",
		issued: map[[2][sha256.Size]byte]bool{}}
	// Each root once, as x509's pool holds it: a copy counted by
	// x509Checks is a check x509 does not make.
	seenRoot := map[[sha256.Size]byte]bool{}
	for _, c := range roots {
		if sum := sha256.Sum256(c.Raw); !seenRoot[sum] {
			seenRoot[sum] = true
			cs.rootPool.AddCert(c)
			cs.roots = append(cs.roots, c)
		}
	}
	seen := map[[sha256.Size]byte]bool{}
	for _, c := range intermediates {
		if sum := sha256.Sum256(c.Raw); !seen[sum] {
			seen[sum] = true
			cs.intermediates = append(cs.intermediates, c)
		}
	}
	return cs
}

// Verify checks what VerifyChain checks of leaf. A failure wraps
// errdef.ErrSignature and says which rule broke; one that ran out of the
// budget of signature checks is ErrTooManyChecks, which its caller should
// take as the bundle's failure, not only leaf's.
func (cs *Chains) Verify(leaf *x509.Certificate) error {
	err := cs.check(leaf)
	switch {
	case errors.Is(err, ErrTooManyChecks):
		return err
	case err != nil:
		return fmt.Errorf("%v: %w", err, errdef.ErrSignature)
	}
	return nil
}

// check is Verify's rules, its error saying which broke.
func (cs *Chains) check(leaf *x509.Certificate) error {
	name := leaf.Subject.String()
	if leaf.IsCA {
		return fmt.Errorf("certificate %q is a CA, not a signing certificate", name)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("certificate %q: key usage does not include digitalSignature", name)
	}
	if _, err := requireP256(name, leaf.PublicKey); err != nil {
		return fmt.Errorf("certificate %q: %v", name, err)
	}
	paths, err := cs.paths(leaf)
	if err != nil {
		return err
	}
	var first error
	for _, path := range paths {
		if err := cs.charge(cs.x509Checks(leaf, path)); err != nil {
			return err
		}
		pool := x509.NewCertPool()
		for _, c := range path {
			pool.AddCert(c)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots:         cs.rootPool,
			Intermediates: pool,
			CurrentTime:   cs.now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		})
		if err == nil {
			if err = strongChain(chains); err == nil {
				return nil
			}
		}
		if first == nil {
			first = err
		}
	}
	reason, err := cs.reason(first, leaf)
	if err != nil {
		return err
	}
	return fmt.Errorf("certificate %q: %s", name, reason)
}

// strongChain returns nil if one of chains (each from a leaf to a root)
// has no key weakKey refuses, else why the first does not.
func strongChain(chains [][]*x509.Certificate) error {
	var first error
	for _, chain := range chains {
		var err error
		for _, c := range chain[1:] {
			if err = weakKey(c); err != nil {
				err = weakKeyError{c, err}
				break
			}
		}
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// weakKeyError is a certificate of a chain whose key is too weak to trust.
type weakKeyError struct {
	cert *x509.Certificate
	err  error
}

func (e weakKeyError) Error() string {
	return fmt.Sprintf("issued through %q: %v", e.cert.Subject.String(), e.err)
}

// charge takes n signature checks from the budget.
func (cs *Chains) charge(n int) error {
	if cs.checks += n; cs.checks > MaxChainChecks {
		return ErrTooManyChecks
	}
	return nil
}

// issuedBy reports whether issuer's key made c's signature, each pair
// checked once.
func (cs *Chains) issuedBy(issuer, c *x509.Certificate) (bool, error) {
	key := [2][sha256.Size]byte{sha256.Sum256(issuer.Raw), sha256.Sum256(c.Raw)}
	if ok, done := cs.issued[key]; done {
		return ok, nil
	}
	if err := cs.charge(1); err != nil {
		return false, err
	}
	ok := checkIssuerSignature(issuer, c) == nil
	cs.issued[key] = ok
	return ok, nil
}

// paths returns the paths of intermediates up from leaf, each as far as
// an intermediate issued it (x509 looks for a root at every step of one),
// at most maxPaths; one empty path where no intermediate issued leaf.
func (cs *Chains) paths(leaf *x509.Certificate) ([][]*x509.Certificate, error) {
	var out [][]*x509.Certificate
	var walk func(cur *x509.Certificate, path []*x509.Certificate) error
	walk = func(cur *x509.Certificate, path []*x509.Certificate) error {
		if len(out) >= maxPaths {
			return nil
		}
		// A path as far as a certificate a trusted root issued is tried
		// first: x509 ends a chain there, its checks few. Extended past
		// it, x509 searched every step's certificates of one name too
		// (a re-keyed root's).
		anchored := false
		for _, r := range cs.roots {
			if !bytes.Equal(r.RawSubject, cur.RawIssuer) {
				continue
			}
			ok, err := cs.issuedBy(r, cur)
			if err != nil {
				return err
			}
			if ok {
				anchored = true
				out = append(out, path)
				break
			}
		}
		extended := false
		// A self-signed certificate ends a path; another of its key,
		// signed by the CA before it (a re-keyed root's cross-signed
		// one), leads on to the root the far side may trust: those are
		// tried first, as the first path that verifies ends the search
		// and each path tried costs its checks.
		for _, last := range []bool{false, true} {
			for _, c := range cs.intermediates {
				if !bytes.Equal(c.RawSubject, cur.RawIssuer) || c.Equal(leaf) || onPath(c, path) {
					continue
				}
				if self, err := cs.selfSigned(c); err != nil {
					return err
				} else if self != last {
					continue
				}
				ok, err := cs.issuedBy(c, cur)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				extended = true
				if err := walk(c, append(path[:len(path):len(path)], c)); err != nil {
					return err
				}
			}
		}
		if !extended && !anchored && len(out) < maxPaths {
			out = append(out, path)
		}
		return nil
	}
	if err := walk(leaf, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// selfSigned reports whether c's own key made its signature (checked
// once, from the budget).
func (cs *Chains) selfSigned(c *x509.Certificate) (bool, error) {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false, nil
	}
	return cs.issuedBy(c, c)
}

func onPath(c *x509.Certificate, path []*x509.Certificate) bool {
	for _, p := range path {
		if p.Equal(c) {
			return true
		}
	}
	return false
}

// x509Checks is how many signature checks x509 makes at most verifying
// leaf through path alone: its search, every signature taken to verify,
// of the chains up from leaf (at each step, one check for every root and
// every certificate of path of the name the step's issuer has and not
// already on the chain; a root ends the chain), to its own bound.
func (cs *Chains) x509Checks(leaf *x509.Certificate, path []*x509.Certificate) int {
	n := 0
	var walk func(chain []*x509.Certificate)
	walk = func(chain []*x509.Certificate) {
		cur := chain[len(chain)-1]
		for i, c := range append(cs.roots[:len(cs.roots):len(cs.roots)], path...) {
			if n >= maxX509Checks {
				return
			}
			if !bytes.Equal(c.RawSubject, cur.RawIssuer) || onPath(c, chain) {
				continue
			}
			if n++; i >= len(cs.roots) {
				walk(append(chain[:len(chain):len(chain)], c))
			}
		}
	}
	walk([]*x509.Certificate{leaf})
	return n
}

// reason turns x509's verification errors into what an operator needs to
// hear: a certificate of the chain other than leaf that is out of its
// dates is named, not taken for the leaf, and so is an issuer among the
// intermediates that is no CA (x509 reports only an unknown authority
// then, or, of one of version 1, that a certificate is not authorized to
// sign) and a CA whose path length constraint the chain exceeds.
func (cs *Chains) reason(err error, leaf *x509.Certificate) (string, error) {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var weak weakKeyError
	switch {
	case errors.As(err, &weak):
		return weak.Error(), nil
	case errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil && !bytes.Equal(inv.Cert.Raw, leaf.Raw):
		return fmt.Sprintf("%q of its chain: expired or not yet valid (%s)", inv.Cert.Subject.String(), inv.Detail), nil
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "expired or not yet valid (" + inv.Detail + ")", nil
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage && allowsCodeSigning(leaf):
		return "not valid for code signing: a certificate of its chain restricts extended key usage to other uses", nil
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return "not valid for code signing (extended key usage)", nil
	case errors.As(err, &inv) && inv.Reason == x509.NotAuthorizedToSign && inv.Cert != nil:
		return fmt.Sprintf("issued through %q, which is not a CA (no basic constraints, or CA false) and may issue no certificate", inv.Cert.Subject.String()), nil
	case errors.As(err, &inv) && inv.Reason == x509.TooManyIntermediates && inv.Cert != nil:
		return fmt.Sprintf("%q of its chain allows at most %d CA certificate(s) below it (path length constraint), and the chain has more", inv.Cert.Subject.String(), inv.Cert.MaxPathLen), nil
	case errors.As(err, &unk):
		c, err := cs.issuerNotCA(leaf)
		if err != nil {
			return "", err
		}
		if c != nil {
			return fmt.Sprintf("issued through %q, which is not a CA (no basic constraints, or CA false) and may issue no certificate", c.Subject.String()), nil
		}
		return cs.unanchored, nil
	}
	return err.Error(), nil
}

// issuerNotCA follows leaf's issuers among the intermediates, each the
// one whose key made the signature of the one before, and returns the
// first that is no CA; nil if there is none (the chain then ends, or
// reaches a CA's self-signed certificate). Its checks come out of the
// budget, most already made by paths.
func (cs *Chains) issuerNotCA(leaf *x509.Certificate) (*x509.Certificate, error) {
	cur := leaf
	for range cs.intermediates {
		var issuer *x509.Certificate
		for _, c := range cs.intermediates {
			if !bytes.Equal(c.RawSubject, cur.RawIssuer) || bytes.Equal(c.Raw, cur.Raw) {
				continue
			}
			ok, err := cs.issuedBy(c, cur)
			if err != nil {
				return nil, err
			}
			if ok {
				issuer = c
				break
			}
		}
		switch {
		case issuer == nil:
			return nil, nil
		case !issuer.BasicConstraintsValid || !issuer.IsCA:
			return issuer, nil
		}
		cur = issuer
	}
	return nil, nil
}

// checkIssuerSignature checks that issuer's key made c's signature.
var checkIssuerSignature = func(issuer, c *x509.Certificate) error {
	return issuer.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
}
