package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A Windows image list holds one windows/amd64 manifest for each Windows
// release it is built for, told apart by os.version alone (Server 2019 and
// 2022: a container of one does not run on the other with process
// isolation). --platform windows/amd64 took the first of them with no word,
// and windows/amd64:10.0.20348.2340 (the os/arch[:osversion] form crane and
// containerd take) was refused as no platform the image has: the other
// could not be picked. Now the bare form is refused as ambiguous, naming
// the os.versions, and the os.version form picks its manifest.
func TestCreatePlatformWindowsOSVersion(t *testing.T) {
	src := testutil.Registry(t)
	list, kids := windowsList(t, src)
	release := releaseOf(t, src, map[string]digest.Digest{"app/windows": list.Digest})
	create := func(platform string) (string, error) {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, release, "", out)
		opts.Version, opts.Platform = "2025.10.0", platform
		_, err := mirror.Create(context.Background(), opts)
		return out, err
	}
	_, err := create("windows/amd64")
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), list.Digest.String()) ||
		!strings.Contains(err.Error(), "10.0.17763.5576") || !strings.Contains(err.Error(), "10.0.20348.2340") {
		t.Errorf("--platform windows/amd64: err = %v, want ErrUsage naming %s and both os.versions", err, list.Digest)
	}
	out, err := create("windows/amd64:10.0.20348.2340")
	if err != nil {
		t.Fatalf("--platform windows/amd64:10.0.20348.2340: %v", err)
	}
	if imgs := readManifest(t, out).Images; len(imgs) != 1 || imgs[0].Digest != kids[1].Digest {
		t.Errorf("--platform windows/amd64:10.0.20348.2340 carried %+v, want the manifest %s", imgs, kids[1].Digest)
	}
	if _, err := create("windows/amd64:10.0.14393.1"); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("an os.version the image has not: err = %v, want ErrNotFound", err)
	}
	if _, err := mirror.ParsePlatform("windows/amd64:"); !errors.Is(err, errdef.ErrUsage) {
		t.Errorf(`ParsePlatform("windows/amd64:"): err = %v, want ErrUsage`, err)
	}
}

// windowsList pushes a Docker list of two windows/amd64 images, of
// os.version 10.0.17763.5576 and 10.0.20348.2340 (Server 2019 and 2022).
func windowsList(t *testing.T, src string) (ocispec.Descriptor, []ocispec.Descriptor) {
	t.Helper()
	r := rawRepo{t, src, "app/windows"}
	var kids []ocispec.Descriptor
	for _, v := range []string{"10.0.17763.5576", "10.0.20348.2340"} {
		cfg := r.push("application/vnd.docker.container.image.v1+json",
			[]byte(`{"architecture":"amd64","os":"windows","os.version":"`+v+`","rootfs":{"type":"layers","diff_ids":[]}}`))
		layer := r.push("application/vnd.docker.image.rootfs.diff.tar.gzip", []byte("layer "+v))
		m := r.pushJSON("application/vnd.docker.distribution.manifest.v2+json", map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": cfg, "layers": []ocispec.Descriptor{layer}})
		m.Platform = &ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
		kids = append(kids, m)
	}
	list := r.pushJSON("application/vnd.docker.distribution.manifest.list.v2+json", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": kids})
	return list, kids
}

// manifest.json lists an image's platforms: those of a Windows list, told
// apart by os.version alone, were listed as one, "windows/amd64", so
// neither the bundle nor inspect said which Windows releases it carries,
// nor gave the platform --platform picks one of them by.
func TestCreatePlatformsNameOSVersion(t *testing.T) {
	src := testutil.Registry(t)
	list, _ := windowsList(t, src)
	release := releaseOf(t, src, map[string]digest.Digest{"app/windows": list.Digest})
	for _, c := range []struct{ platform, want string }{
		{"", "windows/amd64:10.0.17763.5576 windows/amd64:10.0.20348.2340"},
		{"windows/amd64:10.0.20348.2340", "windows/amd64:10.0.20348.2340"},
	} {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, release, "", out)
		opts.Version, opts.Platform = "2025.10.0", c.platform
		if _, err := mirror.Create(context.Background(), opts); err != nil {
			t.Fatalf("--platform %q: %v", c.platform, err)
		}
		if got := strings.Join(readManifest(t, out).Images[0].Platforms, " "); got != c.want {
			t.Errorf("--platform %q: platforms %q, want %q", c.platform, got, c.want)
		}
	}
}

// An index that lists two different manifests of linux/amd64, with no
// os.version (nor variant) to tell them apart: --platform linux/amd64 took
// whichever it names first, with no word. Now it is refused, naming the
// index and both manifests; the same manifest listed twice is no choice,
// and is taken.
func TestCreatePlatformTwoManifestsOfOnePlatform(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/twice"}
	one, other, arm := r.image("amd64 one", "", nil), r.image("amd64 other", "", nil), r.image("arm64", "", nil)
	create := func(idx ocispec.Descriptor) (string, error) {
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", out)
		opts.Version, opts.Platform = "2025.10.0", "linux/amd64"
		_, err := mirror.Create(context.Background(), opts)
		return out, err
	}
	two := r.index(withPlatform(one, "linux", "amd64"), withPlatform(arm, "linux", "arm64"), withPlatform(other, "linux", "amd64"))
	_, err := create(two)
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), two.Digest.String()) ||
		strings.Count(err.Error(), one.Digest.String()) != 1 || strings.Count(err.Error(), other.Digest.String()) != 1 {
		t.Errorf("--platform linux/amd64 of two manifests: err = %v, want ErrUsage naming %s, and %s and %s once each", err, two.Digest, one.Digest, other.Digest)
	}
	same := r.index(withPlatform(one, "linux", "amd64"), withPlatform(arm, "linux", "arm64"), withPlatform(one, "linux", "amd64"))
	out, err := create(same)
	if err != nil {
		t.Fatalf("--platform linux/amd64 of one manifest listed twice: %v", err)
	}
	if imgs := readManifest(t, out).Images; len(imgs) != 1 || imgs[0].Digest != one.Digest {
		t.Errorf("--platform linux/amd64 carried %+v, want the manifest %s", imgs, one.Digest)
	}
}
