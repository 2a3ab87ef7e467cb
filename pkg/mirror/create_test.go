package mirror_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

var fixedTime = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)

// testNow is the clock of the tests that check expiry: an hour after the
// bundles they create were.
var testNow = fixedTime.Add(time.Hour)

func createOpts(t testing.TB, releaseFile, advisories, out string) mirror.CreateOptions {
	return mirror.CreateOptions{
		ReleaseFile:   releaseFile,
		AdvisoriesDir: advisories,
		Output:        out,
		Created:       fixedTime,
		Client:        testutil.Client(t),
		Producer:      bundle.Producer{Name: "stella mirror", Version: "test"},
	}
}

func TestCreateRoundTrip(t *testing.T) {
	host := testutil.Registry(t)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out))
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	if len(m.Images) != len(rel.Images) {
		t.Fatalf("manifest.json lists %d images, release has %d", len(m.Images), len(rel.Images))
	}
	byRepo := map[string]bundle.Image{}
	for _, img := range m.Images {
		byRepo[img.Repository] = img
	}
	for _, src := range rel.Images {
		got, ok := byRepo[src.Repository]
		if !ok {
			t.Fatalf("image %s missing from manifest.json", src.Repository)
		}
		if got.Digest != src.Descriptor.Digest || got.MediaType != src.Descriptor.MediaType || got.Size != src.Descriptor.Size {
			t.Errorf("%s: manifest.json has %s %s %d, source has %s %s %d", src.Repository, got.Digest, got.MediaType, got.Size,
				src.Descriptor.Digest, src.Descriptor.MediaType, src.Descriptor.Size)
		}
		if got.Source != rel.Ref(src) {
			t.Errorf("%s: source %q, want %q", src.Repository, got.Source, rel.Ref(src))
		}
		// Every blob of the source image is in the layout.
		for dg, size := range src.Blobs {
			st, err := os.Stat(filepath.Join(out, "blobs", "sha256", dg.Encoded()))
			if err != nil || st.Size() != size {
				t.Errorf("%s: blob %s missing or wrong size: %v", src.Repository, dg, err)
			}
		}
		if src.Referrer != nil {
			if len(got.Referrers) != 1 || got.Referrers[0].Digest != src.Referrer.Digest || got.Referrers[0].Subject != src.Descriptor.Digest {
				t.Errorf("%s: referrers %+v, want %s", src.Repository, got.Referrers, src.Referrer.Digest)
			}
		}
	}
	if p := byRepo["stellaops/scanner-web"].Platforms; strings.Join(p, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("scanner-web platforms %v", p)
	}
	if p := byRepo["stellaops/authority"].Platforms; strings.Join(p, ",") != "linux/amd64" {
		t.Errorf("authority platforms %v", p)
	}
	if len(m.Advisories) != 2 || m.Advisories[0].Path != "advisories/ghsa-2025-12-01.json.gz" || m.Advisories[0].Source != "ghsa" ||
		m.Advisories[0].MediaType != bundle.MediaTypeAdvisoryGzip {
		t.Errorf("advisories %+v", m.Advisories)
	}
	for _, a := range m.Advisories {
		data, err := os.ReadFile(filepath.Join(advisories, strings.TrimPrefix(a.Path, "advisories/")))
		if err != nil || digest.FromBytes(data) != a.Digest {
			t.Errorf("%s: digest %s does not match its source", a.Path, a.Digest)
		}
	}
	if !m.CreatedAt.Equal(fixedTime) || m.MirrorGeneration != fixedTime.Unix() || !m.ExpiresAt.Equal(fixedTime.Add(mirror.DefaultValidFor)) {
		t.Errorf("times/generation: %v %v %d", m.CreatedAt, m.ExpiresAt, m.MirrorGeneration)
	}
	assertBlobsHashToNames(t, out)
	assertChecksums(t, out)
	assertValidLayout(t, out, m)
	if res.Root.Digest == "" || res.Blobs == 0 {
		t.Errorf("result %+v", res)
	}
	// Nothing but the bundle was left beside it.
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("output parent holds %d entries, want only the bundle", len(entries))
	}
}

func TestCreateIsReproducible(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	var sums [][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "bundle")
		if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
			t.Fatal(err)
		}
		tarPath := filepath.Join(t.TempDir(), "b.tar.zst")
		if _, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: out, Output: tarPath}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums = append(sums, sum[:])
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Fatalf("two create+pack runs differ: %x vs %x", sums[0], sums[1])
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	host := testutil.Registry(t)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	good, _ := os.ReadFile(releaseFile)
	authority := rel.Images[0]

	// A registry that serves one layer with a flipped byte.
	corruptLayer := rel.Images[1]
	var victim digest.Digest
	for dg, size := range corruptLayer.Blobs {
		if size > 64<<10 && size < 128<<10 {
			victim = dg
		}
	}
	bad := testutil.NewCorruptingRegistry(t)
	bad.Corrupt(victim)
	corrupting := bad.Host
	testutil.PushSample(t, corrupting, sample.Spec{})

	tests := []struct {
		name     string
		release  string // release file content; "" keeps the good one
		registry string // replaces host in the release file
		advisory []byte // extra advisory file content
		wantErr  error
		wantMsg  string
	}{
		{name: "malformed yaml", release: "release:\n  version: 2025.10.0\n  components:\n    - name: x\n      image: [oops\n", wantErr: errdef.ErrMalformed, wantMsg: "release.yaml"},
		{name: "tag only", release: strings.Replace(string(good), "@"+authority.Descriptor.Digest.String(), ":2025.10.0", 1), wantErr: errdef.ErrMalformed, wantMsg: ":6: " + host + "/stellaops/authority:2025.10.0 is not pinned"},
		{name: "unknown image", release: strings.Replace(string(good), authority.Descriptor.Digest.Encoded(), strings.Repeat("0", 64), 1), wantErr: errdef.ErrNotFound, wantMsg: "stellaops/authority@sha256:0000"},
		{name: "digest mismatch", registry: corrupting, wantErr: errdef.ErrDigestMismatch, wantMsg: victim.String()},
		{name: "corrupt advisory", advisory: []byte("{\"truncated\": "), wantErr: errdef.ErrMalformed, wantMsg: "zz-broken.json"},
		{name: "unreachable registry", registry: "127.0.0.1:1", wantErr: errdef.ErrUnavailable, wantMsg: "127.0.0.1:1/stellaops/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			content := string(good)
			if tt.release != "" {
				content = tt.release
			}
			if tt.registry != "" {
				content = strings.ReplaceAll(content, host, tt.registry)
			}
			rf := filepath.Join(dir, "release.yaml")
			os.WriteFile(rf, []byte(content), 0o644)
			adv := advisories
			if tt.advisory != nil {
				adv = filepath.Join(dir, "adv")
				os.MkdirAll(adv, 0o755)
				copyDir(t, advisories, adv)
				os.WriteFile(filepath.Join(adv, "zz-broken.json"), tt.advisory, 0o644)
			}
			outParent := filepath.Join(dir, "out")
			out := filepath.Join(outParent, "bundle")
			opts := createOpts(t, rf, adv, out)
			opts.Transfer.Backoff = time.Millisecond
			_, err := mirror.Create(context.Background(), opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			entries, _ := os.ReadDir(outParent)
			if len(entries) != 0 {
				t.Errorf("output left behind: %v", entries)
			}
		})
	}
}

func TestCreateRefusesNonEmptyOutput(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644)
	_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out))
	if !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	// One sentence, the sentinel's words in it once (it used to read
	// "exists and is not empty (use --force to replace it): already exists").
	if want := out + ": already exists and is not empty (use --force to replace it)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "keep")); string(data) != "x" {
		t.Fatal("existing output was touched")
	}
	// --force replaces a bundle directory, never one of other files.
	opts := createOpts(t, releaseFile, advisories, out)
	opts.Force = true
	if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("--force over a directory that is not a bundle: %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "keep")); string(data) != "x" {
		t.Fatal("--force replaced a directory that is not a bundle")
	}
	// Nor another tool's OCI layout: an oci-layout file does not make a
	// bundle of a directory of other files.
	os.WriteFile(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("--force over an OCI layout that is not a bundle: %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "keep")); string(data) != "x" {
		t.Fatal("--force replaced an OCI layout that is not a bundle")
	}
	// A bundle it replaces.
	opts.Output = filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(opts.Output, "advisories", "old.json")
	os.WriteFile(old, []byte("{}"), 0o644)
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("--force over a bundle: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatal("--force did not replace the bundle")
	}
}

func readManifest(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := m.Marshal()
	if !bytes.Equal(canon, data) {
		t.Error("manifest.json is not canonical JSON")
	}
	return m
}

func assertBlobsHashToNames(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != e.Name() {
			t.Errorf("blob %s hashes to %x", e.Name(), sum)
		}
	}
}

func assertChecksums(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := bundle.ParseChecksums(data)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range sums {
		listed[s.Path] = true
		f, err := os.ReadFile(filepath.Join(dir, s.Path))
		if err != nil || digest.FromBytes(f) != s.Digest {
			t.Errorf("SHA256SUMS: %s does not match (%v)", s.Path, err)
		}
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if !info.IsDir() && rel != "SHA256SUMS" && !listed[filepath.ToSlash(rel)] {
			t.Errorf("SHA256SUMS does not list %s", rel)
		}
		return nil
	})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		src, _ := os.Open(filepath.Join(from, e.Name()))
		dst, _ := os.Create(filepath.Join(to, e.Name()))
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

// TestCreatePlatform keeps one platform of a multi-platform image: its
// manifest byte for byte, and the source recorded as the index it came from.
func TestCreatePlatform(t *testing.T) {
	host := testutil.Registry(t)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseFile, advisories, out)
	opts.Platform = "linux/arm64"
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	web := rel.Images[2]
	client := testutil.Client(t)
	repo, _ := client.Repository(host + "/" + web.Repository)
	idx, _ := readContent(context.Background(), repo, web.Descriptor.Digest, web.Descriptor.Size)
	var index ocispec.Index
	json.Unmarshal(idx, &index)
	var arm digest.Digest
	for _, d := range index.Manifests {
		if d.Platform != nil && d.Platform.Architecture == "arm64" {
			arm = d.Digest
		}
	}
	for _, img := range m.Images {
		if img.Repository != web.Repository {
			continue
		}
		if img.Digest != arm || img.MediaType != ocispec.MediaTypeImageManifest || strings.Join(img.Platforms, ",") != "linux/arm64" ||
			!strings.HasSuffix(img.Source, "@"+web.Descriptor.Digest.String()) {
			t.Errorf("scanner-web with --platform linux/arm64: %+v (arm64 manifest %s)", img, arm)
		}
	}
	assertBlobsHashToNames(t, out)
	// linux/arm64/v8 is the arm64 entry that names no variant, as
	// containerd takes it (found by review: it matched nothing).
	opts.Platform, opts.Output = "linux/arm64/v8", filepath.Join(t.TempDir(), "v8")
	if _, err := mirror.Create(context.Background(), opts); err != nil {
		t.Fatalf("--platform linux/arm64/v8: %v", err)
	}
	for _, img := range readManifest(t, opts.Output).Images {
		if img.Repository == web.Repository && img.Digest != arm {
			t.Errorf("scanner-web with --platform linux/arm64/v8: %s, want the arm64 manifest %s", img.Digest, arm)
		}
	}
	opts.Platform, opts.Output = "linux/s390x", filepath.Join(t.TempDir(), "none")
	if _, err := mirror.Create(context.Background(), opts); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("a platform no image has: %v", err)
	}
}

// An advisory file name that is not UTF-8 (Linux allows any bytes) cannot
// be written into manifest.json as it is: JSON would carry U+FFFD in its
// place, naming a file the bundle does not hold. create must refuse it
// (exit 11), not write a bundle that can never verify.
func TestCreateRefusesAdvisoryNameNotUTF8(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	adv := t.TempDir()
	copyDir(t, advisories, adv)
	if err := os.WriteFile(filepath.Join(adv, "nvd-\xff.json"), []byte("{}"), 0o644); err != nil {
		t.Skipf("file names here must be UTF-8: %v", err)
	}
	outParent := t.TempDir()
	_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, adv, filepath.Join(outParent, "bundle")))
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "nvd-") {
		t.Fatalf("err = %v, want ErrMalformed naming the advisory", err)
	}
	if entries, _ := os.ReadDir(outParent); len(entries) != 0 {
		t.Errorf("output left behind: %v", entries)
	}
}

// --advisories may name a symlink to the feed directory (feeds/current →
// feeds/2025-12-01, as feeds are rotated): os.Stat took it for the
// directory it is, then the walk refused its own root as "not a regular
// file" (exit 11). Symlinks inside the feed stay refused.
func TestCreateAdvisoriesDirThroughSymlink(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(advisories, link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := mirror.Create(context.Background(), createOpts(t, releaseFile, link, out))
	if err != nil {
		t.Fatal(err)
	}
	want := readManifest(t, makeBundleFrom(t, releaseFile, advisories)).Advisories
	if len(res.Manifest.Advisories) == 0 || len(res.Manifest.Advisories) != len(want) {
		t.Fatalf("advisories %v, want %v", res.Manifest.Advisories, want)
	}
}

// An --output inside --advisories would be walked as advisories while it is
// written (create's own staging directory, then on the next run the bundle
// itself): create refuses it as a usage error before fetching anything.
func TestCreateRefusesOutputInsideAdvisories(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	feeds := t.TempDir()
	copyDir(t, advisories, feeds)
	for _, out := range []string{filepath.Join(feeds, "bundle"), filepath.Join(feeds, "sub", "b.tar")} {
		_, err := mirror.Create(context.Background(), createOpts(t, releaseFile, feeds, out))
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "--advisories") {
			t.Fatalf("--output %s: err = %v, want ErrUsage naming --advisories", out, err)
		}
		if entries, _ := os.ReadDir(feeds); len(entries) != 2 {
			t.Errorf("--output %s: left behind in the feed: %v", out, entries)
		}
	}
}

func makeBundleFrom(t *testing.T, releaseFile, advisories string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(context.Background(), createOpts(t, releaseFile, advisories, out)); err != nil {
		t.Fatal(err)
	}
	return out
}
