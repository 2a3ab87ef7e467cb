package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/layout"
)

// TestFilesNotCarriedReported: a signed bundle whose side files were
// replaced on the medium (another public-key.pem, SHA256SUMS written again
// and SHA256SUMS.sig signed with that key, which did not sign the
// envelope) still imports and pushes, its side files left behind. The
// --format json result says so (filesNotCarried, as docs/json.md
// documents it), and the text summary in one line: the warning on stderr
// alone reached no automation. So do sync and pull of the bundle from a
// registry where its side files are attached as its files referrer.
func TestFilesNotCarriedReported(t *testing.T) {
	schemas := jsonSchemas(t)
	t.Setenv("COSIGN_PASSWORD", "files-test")
	work := t.TempDir()
	dir := testBundle(t)
	signer, other := filepath.Join(work, "signer"), filepath.Join(work, "other")
	for _, prefix := range []string{signer, other} {
		if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", prefix); code != 0 {
			t.Fatal(stderr)
		}
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", signer+".key"); code != 0 {
		t.Fatal(stderr)
	}
	replaceSideFiles(t, dir, other)
	// The same bundle in a registry, its substituted side files attached
	// as its files referrer (push leaves them out: anyone who may push
	// there can attach them).
	src := testutil.Registry(t)
	if code, stdout, stderr := run(t, "mirror", "push", dir, src+"/stellaops/mirror-bundle", "--plain-http", "--key", signer+".pub"); code != 0 {
		t.Fatalf("push: exit %d: %s%s", code, stdout, stderr)
	}
	bundleRef := src + "/stellaops/mirror-bundle:" + releaseVersion(t, dir)
	attachSideFiles(t, bundleRef, dir)
	commands := map[string]func() []string{
		"stella mirror import": func() []string {
			return []string{"mirror", "import", dir, "--registry", testutil.Registry(t), "--plain-http", "--key", signer + ".pub"}
		},
		"stella mirror push": func() []string {
			return []string{"mirror", "push", dir, testutil.Registry(t) + "/stellaops/mirror-bundle", "--plain-http", "--key", signer + ".pub"}
		},
		"stella mirror sync": func() []string {
			return []string{"mirror", "sync", bundleRef, testutil.Registry(t) + "/stellaops/mirror-bundle", "--plain-http", "--key", signer + ".pub"}
		},
		"stella mirror pull": func() []string {
			return []string{"mirror", "pull", bundleRef, filepath.Join(t.TempDir(), "pulled"), "--plain-http", "--key", signer + ".pub"}
		},
	}
	for name, args := range commands {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := run(t, append(args(), "--format", "json")...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			checkSchema(t, name, stdout, schemas[name])
			var res struct {
				FilesNotCarried *struct {
					Files  []string `json:"files"`
					Reason string   `json:"reason"`
				} `json:"filesNotCarried"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatal(err)
			}
			if left := res.FilesNotCarried; left == nil || strings.Join(left.Files, ",") != "public-key.pem,SHA256SUMS,SHA256SUMS.sig" ||
				!strings.Contains(left.Reason, "SHA256SUMS.sig does not verify SHA256SUMS with a key that signed the envelope") {
				t.Errorf("filesNotCarried %+v, want the three side files and why\n%s", left, stdout)
			}

			code, stdout, stderr = run(t, args()...)
			if code != 0 {
				t.Fatalf("text: exit %d: %s%s", code, stdout, stderr)
			}
			want := "  not carried public-key.pem, SHA256SUMS, SHA256SUMS.sig: SHA256SUMS.sig does not verify SHA256SUMS with a key that signed the envelope"
			if n := strings.Count(stdout, "not carried"); n != 1 || !strings.Contains(stdout, want) {
				t.Errorf("text summary: want one line %q, got:\n%s", want, stdout)
			}
		})
	}
}

// replaceSideFiles puts key's public key in dir's public-key.pem, writes
// SHA256SUMS again and signs it with key (password COSIGN_PASSWORD), as
// whoever held the medium could.
func replaceSideFiles(t *testing.T, dir, key string) {
	t.Helper()
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, layout.PublicKeyFile), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := d.WriteChecksums(true)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.LoadSigner(context.Background(), key+".key", func() ([]byte, error) { return []byte(os.Getenv("COSIGN_PASSWORD")), nil })
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(context.Background(), sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, layout.ChecksumsSigFile), []byte(base64.StdEncoding.EncodeToString(sig)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlacingCommandsHelpNameFilesNotCarried: import, push, sync and pull
// report the side files they leave behind (filesNotCarried), and each
// one's help says so; sync's said nothing of it, nor pull's.
func TestPlacingCommandsHelpNameFilesNotCarried(t *testing.T) {
	root := NewRootCmd(&app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	for _, name := range []string{"import", "push", "sync", "pull"} {
		cmd, _, err := root.Find([]string{"mirror", name})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cmd.Long, "filesNotCarried in --format json") {
			t.Errorf("stella mirror %s --help does not name filesNotCarried", name)
		}
	}
}

// releaseVersion is the release version of the bundle directory dir.
func releaseVersion(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, layout.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m.Release.Version
}

// attachSideFiles attaches to the bundle root at ref a files referrer
// holding dir's side files, as push builds one.
func attachSideFiles(t *testing.T, ref, dir string) {
	t.Helper()
	ctx := context.Background()
	repo, err := testutil.Client(t).Repository(ref)
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Resolve(ctx, ref[strings.LastIndex(ref, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	var files []bundle.NamedFile
	for _, name := range []string{layout.PublicKeyFile, layout.ChecksumsFile, layout.ChecksumsSigFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, bundle.NamedFile{Name: name, Data: data})
	}
	doc, layers, err := bundle.FilesManifest(root, files, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	push := func(desc ocispec.Descriptor, data []byte) {
		if err := repo.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	push(bundle.EmptyConfig, bundle.EmptyConfigBytes)
	for i, l := range layers {
		push(l, files[i].Data)
	}
	push(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: doc.Descriptor.Digest, Size: doc.Descriptor.Size}, doc.Bytes)
}
