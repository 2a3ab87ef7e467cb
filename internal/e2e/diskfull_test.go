package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestDiskFull runs every command that writes a bundle onto media too
// small for it (a file size limit, which the kernel enforces like a full
// disk: the write fails): each exits 1 with one line naming what it was
// writing and why, and leaves nothing behind, not even its staging.
func TestDiskFull(t *testing.T) {
	bash := tool(t, "bash")
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	registry := testutil.Distribution(t)
	ref := registry + "/stellaops/mirror-bundle:" + rel.Spec.Version
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)

	// The sample's largest blob is 257 KiB: 200 KiB holds every file but it.
	const limitKiB = 200
	tests := []struct {
		name   string
		output string
		args   []string
	}{
		{"create", "bundle", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}},
		{"create --output .tar", "bundle.tar", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}},
		{"pack .tar", "bundle.tar", []string{"pack", dir, "--output"}},
		{"pack .tar.zst", "bundle.tar.zst", []string{"pack", dir, "--output"}},
		{"pack --split", "bundle.tar", []string{"pack", dir, "--split", "1M", "--output"}},
		{"pull", "pulled", []string{"pull", ref, "--plain-http", "--key", pub}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := t.TempDir()
			out := filepath.Join(media, tt.output)
			args := append([]string{"-c", `ulimit -f ` + strconv.Itoa(limitKiB) + ` && exec "$0" "$@"`, stellaBin, "mirror"}, tt.args...)
			args = append(args, out)
			r := runStella(t, nil, bash, args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, tt.output) || !strings.Contains(last, "file too large") {
				t.Errorf("error line %q does not name %s and the cause", last, tt.output)
			}
			// The output's own name, not the hidden temporary it was
			// written through, and what to do: volumes under the limit.
			if strings.Contains(last, ".tmp-") || !strings.Contains(last, "file-size limit") || !strings.Contains(last, "--split") {
				t.Errorf("error line %q names a temporary, or does not say the medium's file-size limit was hit and point at pack --split", last)
			}
			if entries, _ := os.ReadDir(media); len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("left on the media: %v", names)
			}
		})
	}
}

// TestDiskFullSmallFiles runs the commands that write small files (keys,
// the inventory and its signature, advisories, a signature into a bundle)
// with no room at all: each exits 1 with one line naming the file it was
// writing, leaves nothing behind (import no tag either, sign the bundle as
// it was), and succeeds once there is room.
func TestDiskFullSmallFiles(t *testing.T) {
	bash := tool(t, "bash")
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	signed := filepath.Join(filepath.Dir(archive), "bundle")
	root := testutil.ModuleRoot(t)
	key := filepath.Join(root, "tools/cosign/cosign.dev.key")
	registry := testutil.Distribution(t)
	env := []string{"COSIGN_PASSWORD=stellaops-dev"}
	tests := []struct {
		name string
		args func(media string) []string
	}{
		{"keygen", func(media string) []string {
			return []string{"keygen", "--output-key-prefix", filepath.Join(media, "cosign")}
		}},
		{"inventory --key", func(media string) []string {
			return []string{"inventory", "--registry", registry, "--plain-http", "--output", filepath.Join(media, "inventory.json"), "--key", key, "--bundle-key", pub}
		}},
		{"import --advisories-dir", func(media string) []string {
			return []string{"import", archive, "--registry", registry, "--plain-http", "--key", pub, "--advisories-dir", media}
		}},
		{"sign", func(media string) []string {
			dir := filepath.Join(media, "bundle")
			copyDir(t, signed, dir)
			return []string{"sign", filepath.Join(dir, "manifest.json"), "--key", key}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := t.TempDir()
			args := tt.args(media)
			before := testutil.Tree(t, media)
			full := append([]string{"-c", `ulimit -f 0 && exec "$0" "$@"`, stellaBin, "mirror"}, args...)
			r := runStella(t, env, bash, full...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := lines[len(lines)-1]; r.code != 1 || !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, media) || !strings.Contains(last, "file too large") {
				t.Fatalf("exit %d, want 1 with one line naming the file and the cause\nstderr: %s", r.code, r.stderr)
			}
			if after := testutil.Tree(t, media); after != before {
				t.Errorf("the media changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if tt.name == "import --advisories-dir" {
				// The advisory being written is named, and the directory
				// is at fault: it said "push blob … to HOST/REPO: write
				// DIR/.NAME.tmp-…: file too large (the medium failed as it
				// was read: copy the bundle again …)" (found by review).
				last := lines[len(lines)-1]
				if !strings.Contains(last, "--advisories-dir "+media+": ") || strings.Contains(last, "medium failed as it was read") ||
					strings.Contains(last, "push blob") || strings.Contains(last, ".tmp-") {
					t.Errorf("error line %q does not name the advisory and --advisories-dir alone", last)
				}
				for repo, tags := range testutil.Tags(t, registry) {
					if len(tags) > 0 {
						t.Errorf("a failed import left tags in %s: %v", repo, tags)
					}
				}
			}
			if r := stella(t, env, append([]string{"mirror"}, args...)...); r.code != 0 {
				t.Fatalf("with room: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestNoFreeInodes writes bundle directories onto media with bytes to
// spare but too few inodes (a stick formatted for a few large files, a
// small tmpfs): each exits 1 with one line naming the output, not the
// hidden file it was making, and saying that the medium ran out of inodes,
// which df -h does not show; nothing is left behind. One archive fits
// there, packed from a disk with room.
func TestNoFreeInodes(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	registry := testutil.Distribution(t)
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)
	create := []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}
	for name, args := range map[string][]string{
		"create": create,
		"pull":   {"mirror", "pull", registry + "/stellaops/mirror-bundle:" + rel.Spec.Version, "--plain-http", "--key", pub},
	} {
		media := fewInodes(t, inodes)
		r := runStella(t, nil, stellaBin, append(args, filepath.Join(media, "bundle"))...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code != 1 || !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, filepath.Join(media, "bundle")+": ") ||
			strings.Contains(last, ".tmp-") || !strings.Contains(last, "no free inodes") {
			t.Errorf("%s: exit %d, want 1 with one line naming the bundle directory and the medium out of inodes\nstderr: %s", name, r.code, r.stderr)
		}
		if entries, _ := os.ReadDir(media); len(entries) != 0 {
			t.Errorf("%s: left on the media: %v", name, entries)
		}
	}
	mustStella(t, "mirror", "pack", filepath.Join(filepath.Dir(archive), "bundle"), "--output", filepath.Join(fewInodes(t, inodes), "bundle.tar"))
}

// inodes is fewer than the sample's bundle directory takes (some 55 files
// and directories, made through its staging directory).
const inodes = 50

// fewInodes mounts a tmpfs of 64 MiB but only n inodes, or skips the test
// where that cannot be done (not root).
func fewInodes(t *testing.T, n int) string {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=64m,nr_inodes=%d", n), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestMediumFull packs onto media that fill up (a tmpfs of 2 MiB, a
// bundle of 4): each exits 1 with one line naming the output (the volume
// being written, for --split), never the hidden file being made, and
// telling the operator what one medium holds, as the --split SIZE to use;
// nothing is left on the media.
func TestMediumFull(t *testing.T) {
	spec := sample.Spec{BaseLayerSize: 3 << 20}
	archive, _, _ := signedBundle(t, spec, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	_, releaseFile, advisories := testutil.PushSample(t, testutil.Distribution(t), spec)
	tests := []struct {
		name, output, named string
		args                []string
		want                string
	}{
		{"pack .tar", "bundle.tar", "bundle.tar", nil, "the medium took 2.0 MiB of it: free space on the medium, or pack --split 1M"},
		{"pack .tar.zst", "bundle.tar.zst", "bundle.tar.zst", nil, "the medium took 2.0 MiB of it: free space on the medium, or pack --split 1M"},
		{"pack --split, volumes larger than the medium", "bundle.tar", "bundle.tar.000", []string{"--split", "3M"}, "the medium took 2.0 MiB, less than one volume of --split 3M: pack --split 1M"},
		{"pack --split, not all volumes fit", "bundle.tar", "bundle.tar.002", []string{"--split", "1M"}, "the medium took 2.0 MiB of the volumes of --split 1M, not all of them: pack them onto a disk with room"},
		// A directory holds each blob whole: no --split of it, but of
		// the archive packed from it.
		{"create", "bundle", "bundle", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}, "free space on the medium, or write the bundle directory on a disk with room, then pack --split SIZE onto media like this one"},
		// create's one-pass archive says what the medium took, as pack
		// does (it said no figure): its blocks and its staging's, not its
		// size, which counts the holes its large blobs are fetched into.
		{"create --output .tar", "bundle.tar", "bundle.tar", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}, "the medium took 2.0 MiB of it: free space on the medium, or create the bundle directory on a disk with room, then pack it with --split 1M and carry the volumes on several such media"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := smallMedium(t, "2m")
			out := filepath.Join(media, tt.output)
			args := append([]string{"mirror", "pack", dir, "--output", out}, tt.args...)
			if tt.args != nil && tt.args[0] == "create" {
				args = append([]string{"mirror"}, append(tt.args, out)...)
			}
			r := stella(t, nil, args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if r.code != 1 || len(lines) != 1 || !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, filepath.Join(media, tt.named)+": no space left on device") || strings.Contains(last, ".tmp-") {
				t.Fatalf("exit %d, want 1 with one line naming %s and the cause\nstderr: %s", r.code, tt.named, r.stderr)
			}
			if !strings.Contains(last, tt.want) {
				t.Errorf("error line %q does not say %q", last, tt.want)
			}
			if entries, _ := os.ReadDir(media); len(entries) != 0 {
				t.Errorf("left on the media: %v", entries)
			}
		})
	}

	// The advice, followed onto the same medium, must fit at least one
	// volume beside its list (written first): a medium that took exactly
	// 2 MiB was told --split 2M, which then did not fit one volume.
	t.Run("advice followed", func(t *testing.T) {
		r := stella(t, nil, "mirror", "pack", dir, "--output", filepath.Join(smallMedium(t, "2m"), "bundle.tar"))
		m := regexp.MustCompile(`--split (\d+M)`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no --split SIZE advised: %s", r.stderr)
		}
		r = stella(t, nil, "mirror", "pack", dir, "--output", filepath.Join(smallMedium(t, "2m"), "bundle.tar"), "--split", m[1])
		if r.code != 1 || strings.Contains(r.stderr, "less than one volume") || !strings.Contains(r.stderr, "of the volumes of --split "+m[1]+", not all of them") {
			t.Errorf("pack --split %s, as advised, onto the same medium: exit %d\n%s", m[1], r.code, r.stderr)
		}
	})
}

// smallMedium mounts a tmpfs of size bytes (mount's syntax: 2m), or skips
// the test where that cannot be done (not root).
func smallMedium(t *testing.T, size string) string {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestMediumFullForTheList packs --split onto a medium with room for the
// volumes (a tmpfs of their pages, and one more) but not for their list:
// the volumes took their names, then the list failed, naming its hidden
// temporary, and the stick held 3 volumes and no list. Now the list is
// written before the volumes take their names: one line naming it, exit 1,
// and nothing left on the medium.
func TestMediumFullForTheList(t *testing.T) {
	archive, _, _ := signedBundle(t, sample.Spec{BaseLayerSize: 3 << 20}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	disk := filepath.Join(t.TempDir(), "bundle.tar")
	mustStella(t, "mirror", "pack", dir, "--output", disk, "--split", "1M")
	entries, _ := filepath.Glob(disk + ".0*")
	pages := int64(1) // MarkPending's record
	for _, e := range entries {
		st, err := os.Stat(e)
		if err != nil {
			t.Fatal(err)
		}
		pages += (st.Size() + 4095) / 4096
	}
	media := smallMedium(t, strconv.FormatInt(pages*4096, 10))
	out := filepath.Join(media, "bundle.tar")
	r := stella(t, nil, "mirror", "pack", dir, "--output", out, "--split", "1M")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], out+".volumes.json: the medium holds the volumes") ||
		!strings.HasSuffix(lines[0], "no space left on device") || strings.Contains(lines[0], ".tmp-") {
		t.Errorf("exit %d, want 1 with one line naming the list and the cause\nstderr: %s", r.code, r.stderr)
	}
	if left, _ := os.ReadDir(media); len(left) != 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("left on the media: %v", names)
	}
	// With room for the list too, the set is placed whole.
	media = smallMedium(t, strconv.FormatInt((pages+1)*4096, 10))
	mustStella(t, "mirror", "pack", dir, "--output", filepath.Join(media, "bundle.tar"), "--split", "1M")
	if _, err := os.Stat(filepath.Join(media, "bundle.tar.volumes.json")); err != nil {
		t.Error(err)
	}
}
