package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// newerManifest is the golden manifest.json as a newer stella might write
// it (schemaVersion 2, a field this stella does not know), and its
// envelope signed by a new key.
func newerManifest(t *testing.T, data []byte) (manifest, envelope []byte, pub string) {
	t.Helper()
	out := strings.Replace(string(data), `"schemaVersion": 1`, `"schemaVersion": 2`, 1)
	out = strings.Replace(out, "{\n", "{\n  \"addedLater\": true,\n", 1)
	if out == string(data) {
		t.Fatal("mutation changed nothing")
	}
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "manifest.json"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	priv, pub := testKeys(t, "newer")
	sign(t, plain, priv)
	env, err := os.ReadFile(filepath.Join(plain, "manifest.dsse"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(out), env, pub
}

// newerArchive rewrites the golden full.tar with manifest.json and
// manifest.dsse replaced, every other entry as it was.
func newerArchive(t *testing.T, golden string) (archive, pub string) {
	t.Helper()
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(f)
	var env []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch h.Name {
		case "manifest.json":
			data, env, pub = newerManifest(t, data)
		case "manifest.dsse":
			data = env
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(t.TempDir(), "newer.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return archive, pub
}

// TestNewerBundleSaysUpgrade: a bundle made by a newer stella (here the
// golden bundle with schemaVersion 2 and a new field), signed by a trusted
// key, is refused by verify, inspect, import and serve with the line that
// says so and what to do, before anything is written: the signature
// verifies, then the format is the first thing said. Before: "manifest.json:
// json: unknown field "addedLater": malformed".
func TestNewerBundleSaysUpgrade(t *testing.T) {
	ctx := context.Background()
	archive, pub := newerArchive(t, filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles", "v1", "full.tar"))
	trust := trustKeys(pub)
	host := testutil.Registry(t)
	ops := map[string]func() error{
		"verify": func() error {
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: archive, Trust: trust, Now: testNow})
			return err
		},
		"inspect": func() error {
			_, err := mirror.InspectWith(ctx, mirror.InspectOptions{Source: archive, Trust: trust, Now: testNow})
			return err
		},
		"import": func() error {
			_, err := mirror.Import(ctx, importOpts(t, archive, host, pub))
			return err
		},
		"serve": func() error {
			b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: archive, Trust: trust, Now: testNow})
			if err == nil {
				b.Close()
			}
			return err
		},
	}
	want := "manifest.json was made by a newer stella (schemaVersion 2; this stella reads 1): upgrade stella on this side: newer format"
	for name, op := range ops {
		err := op()
		if !errors.Is(err, errdef.ErrNewerFormat) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), archive) {
			t.Errorf("%s: %v\nwant errdef.ErrNewerFormat naming %s: %q", name, err, archive, want)
		}
	}
	if tags := testutil.Tags(t, host); len(tags) != 0 {
		t.Errorf("a refused import wrote %v", tags)
	}
	// Signed by nobody trusted, it is a signature failure (exit 5) first.
	_, other := testKeys(t, "other")
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: archive, Trust: trustKeys(other), Now: testNow}); !errors.Is(err, errdef.ErrSignature) {
		t.Errorf("verify with another key: %v, want a signature failure", err)
	}
}

// TestNewerManifestOutsideABundleIsNotVerified: a bundle of a newer format
// whose oci-layout was removed (its manifest.json and envelope beside each
// other, the content tampered with or not) is refused as newer by verify,
// as a bundle of this format is refused there, its content unchecked.
// Before, its manifest.json did not parse as a bundle's, so verify took it
// for some other signed document and passed it (exit 0) on the signature
// alone: a far side's older stella said "verified" of a bundle whose
// blobs it never read.
func TestNewerManifestOutsideABundleIsNotVerified(t *testing.T) {
	f, err := os.Open(filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles", "v1", "full.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var data []byte
	for tr := tar.NewReader(f); data == nil; {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	manifest, env, pub := newerManifest(t, data)
	dir := t.TempDir()
	for name, b := range map[string][]byte{"manifest.json": manifest, "manifest.dsse": env} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	envelope := filepath.Join(dir, "manifest.dsse")
	_, err = mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: envelope, Trust: trustKeys(pub), Now: testNow})
	if !errors.Is(err, errdef.ErrNewerFormat) || !strings.Contains(err.Error(), envelope) {
		t.Errorf("verify %s: %v, want errdef.ErrNewerFormat naming it", envelope, err)
	}
	if _, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: envelope, Trust: trustKeys(pub), Now: testNow, SignatureOnly: true}); err != nil {
		t.Errorf("verify --signature-only %s: %v", envelope, err)
	}
}
