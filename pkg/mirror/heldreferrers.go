package mirror

import (
	"encoding/base64"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// A held root's referrers are anyone's: whoever may push to the bundle
// repository can attach up to transfer.MaxReferrers of them, of up to
// bundle.MaxManifestSize each, and every import's rollback check, every
// inventory and catalog read them again. Its verification (verifyHeldRoot)
// reads only what a signature check needs, bounded.
const (
	// maxHeldSignatures bounds the signature (and files) referrers a held
	// root's verification reads. A root holds one signature referrer a
	// push of a signed bundle (signed again and pushed again: one more),
	// never near this many; one with more past the bound is read as far
	// as the bound, and fails if none of those verifies.
	maxHeldSignatures = 16
	// maxHeldSignatureManifest bounds the listed size of a signature or
	// files referrer a held root's verification fetches: ours are a few
	// hundred bytes (bundle.SignatureManifest, bundle.FilesManifest).
	maxHeldSignatureManifest = 16 << 10
	// heldEnvelopeSlack is what an envelope may hold beyond its payload,
	// manifest.json in base64: its type, its signatures, certificates.
	heldEnvelopeSlack = 64 << 10
)

// heldCandidates returns the referrers of a held root its verification
// reads: image manifests, of a signature referrer's size, listed as a
// signature, as files when files are read (certificates: a trust root),
// or with the empty config's media type or none (some registries list the
// config's media type in place of the artifactType; the fallback tag's
// index may carry none); at most maxHeldSignatures of each kind, in the
// order listed. Every other referrer (an SBOM, a cosign attestation,
// anything anyone attached) is not fetched. dropped counts the referrers
// that might have been a signature but were past the bound: where none of
// those read verifies, the caller fails closed (errTooManySignatures)
// rather than pass over the root, since anyone who may attach referrers
// could otherwise hide a sound root (the newest, from the rollback check)
// behind referrers listed ahead of its own, where tags are immutable.
func heldCandidates(refs []ocispec.Descriptor, files bool) (out []ocispec.Descriptor, dropped int) {
	sigs, others := 0, 0
	for _, r := range refs {
		if r.MediaType != ocispec.MediaTypeImageManifest || r.Size > maxHeldSignatureManifest {
			continue
		}
		switch r.ArtifactType {
		case bundle.ArtifactTypeDSSE:
			if sigs >= maxHeldSignatures {
				dropped++
				continue
			}
			sigs++
		case bundle.ArtifactTypeFiles:
			if !files || others >= maxHeldSignatures {
				continue
			}
			others++
		case "", bundle.EmptyConfig.MediaType:
			if others >= maxHeldSignatures {
				dropped++
				continue
			}
			others++
		default:
			continue
		}
		out = append(out, r)
	}
	return out, dropped
}

// errTooManySignatures is the failure of a held root (or catalog) none of
// whose first maxHeldSignatures signature referrers verifies, with more
// past them. It is no refusal of the root (refusesRoot): its reader fails,
// exit 5, naming it, rather than pass it over.
var errTooManySignatures = fmt.Errorf("more than %d signature referrers and none of the first %d verifies: anyone with push rights may have attached them ahead of its own; delete those that are not yours: %w", maxHeldSignatures, maxHeldSignatures, errdef.ErrSignature)

// maxHeldEnvelope is the largest envelope over manifest.json of
// manifestSize bytes: the envelope's payload is manifest.json itself, so
// a larger one cannot verify, and is not fetched.
func maxHeldEnvelope(manifestSize int) int64 {
	return int64(base64.StdEncoding.EncodedLen(manifestSize)) + heldEnvelopeSlack
}
