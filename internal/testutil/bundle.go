package testutil

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// BundleFixture is a sample release pushed to an in-process registry,
// made into a bundle directory, stand-in signed (FakeSign) and packed to a
// plain tar.
type BundleFixture struct {
	// Registry is the source registry's host:port; Release what it holds.
	Registry string
	Release  *sample.Release
	// Dir is the bundle directory, Tar the same bundle packed plain.
	Dir, Tar string
	// Created is the bundle's createdAt: Now for checks of expiry.
	Created time.Time
}

// Bundle builds a BundleFixture for spec.
func Bundle(t testing.TB, spec sample.Spec) *BundleFixture {
	t.Helper()
	ctx := context.Background()
	host := Registry(t)
	rel, releaseFile, advisories := PushSample(t, host, spec)
	// Created now, so that the bundle has not expired for code that checks
	// against the clock (the CLI).
	created := time.Now().UTC().Truncate(time.Second)
	root := t.TempDir()
	dir := filepath.Join(root, "bundle")
	_, err := mirror.Create(ctx, mirror.CreateOptions{
		ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir, Created: created,
		Client: Client(t), Producer: bundle.Producer{Name: "stella mirror", Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	FakeSign(t, dir)
	tarPath := filepath.Join(root, "bundle.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: dir, Output: tarPath}); err != nil {
		t.Fatal(err)
	}
	return &BundleFixture{Registry: host, Release: rel, Dir: dir, Tar: tarPath, Created: created}
}

// fakeSignature is the "signature" FakeSign writes and FakeVerifier
// accepts. It is no cryptography at all: it stands in for `stella mirror
// sign` (issue 3) so that tests can exercise a signed bundle's shape.
const fakeSignature = "stellaops-test-signature"

type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// FakeSign gives the bundle directory dir the shape of a signed bundle: a
// DSSE envelope over manifest.json in manifest.dsse, the signature
// referrer (subject: the root) in the layout and index.json, and a fresh
// SHA256SUMS.
func FakeSign(t testing.TB, dir string) {
	t.Helper()
	ctx := context.Background()
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mj, err := d.ReadFile(layout.ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf(`{"payloadType":%q,"payload":%q,"signatures":[{"keyid":"test","sig":%q}]}`,
		bundle.PayloadType, base64.StdEncoding.EncodeToString(mj), base64.StdEncoding.EncodeToString([]byte(fakeSignature)))
	if err := d.WriteFile(layout.EnvelopeFile, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	envDesc := ocispec.Descriptor{MediaType: bundle.ArtifactTypeDSSE, Digest: digest.FromString(env), Size: int64(len(env))}
	if err := d.PushBytes(ctx, envDesc, []byte(env)); err != nil {
		t.Fatal(err)
	}
	idx, err := d.Index()
	if err != nil {
		t.Fatal(err)
	}
	var rootDesc ocispec.Descriptor
	for _, m := range idx.Manifests {
		if m.ArtifactType == bundle.ArtifactTypeBundle {
			rootDesc = m
		}
	}
	sig, err := bundle.SignatureManifest(rootDesc, envDesc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PushBytes(ctx, sig.Descriptor, sig.Bytes); err != nil {
		t.Fatal(err)
	}
	idx.Manifests = append(idx.Manifests, sig.Descriptor)
	if err := d.WriteIndex(idx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteChecksums(false); err != nil {
		t.Fatal(err)
	}
}

// FakeVerifier accepts what FakeSign wrote, and only that: manifest.dsse
// must be an envelope of the bundle payload type whose payload is exactly
// manifest.json and whose signature is the stand-in one. Anything else is
// errdef.ErrSignature. Like FakeSign it is no cryptography.
func FakeVerifier() mirror.SignatureVerifier {
	return func(_ context.Context, manifestJSON []byte, file func(string) ([]byte, error)) error {
		data, err := file(layout.EnvelopeFile)
		if err != nil {
			return fmt.Errorf("no %s: %w", layout.EnvelopeFile, errdef.ErrSignature)
		}
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return fmt.Errorf("%s: %v: %w", layout.EnvelopeFile, err, errdef.ErrSignature)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil || env.PayloadType != bundle.PayloadType || !bytes.Equal(payload, manifestJSON) {
			return fmt.Errorf("%s does not sign this manifest.json: %w", layout.EnvelopeFile, errdef.ErrSignature)
		}
		for _, s := range env.Signatures {
			if sig, _ := base64.StdEncoding.DecodeString(s.Sig); string(sig) == fakeSignature {
				return nil
			}
		}
		return fmt.Errorf("%s: no trusted signature: %w", layout.EnvelopeFile, errdef.ErrSignature)
	}
}
