package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// killAtRename runs the binary under strace, which delivers SIGKILL as
// the process enters the first rename (or link) onto path: the state a crash or a
// power cut leaves just before that file takes its name. It checks that
// the process was killed there (it did not exit by itself).
func killAtRename(t *testing.T, env []string, path string, args ...string) {
	t.Helper()
	strace := tool(t, "strace")
	r := runStella(t, env, strace, append([]string{"-f", "-qq", "-o", os.DevNull, "-P", path,
		"-e", "inject=renameat,renameat2,linkat:signal=SIGKILL:when=1", stellaBin}, args...)...)
	if r.code == 0 || r.stderr != "" {
		t.Fatalf("not killed at the rename onto %s: exit %d\nstdout: %s\nstderr: %s", path, r.code, r.stdout, r.stderr)
	}
}

// temporaries lists the hidden temporary files (".NAME.tmp-…") in dir.
func temporaries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmps []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	return tmps
}

// copyDir copies a bundle directory (regular files and directories).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSignKilledAndResumed kills sign of a bundle directory as it is about
// to rename each file it writes into place, then runs it again: the second
// run signs (the first one's temporaries do not stop it, and are gone),
// and the bundle verifies, checksums and all.
func TestSignKilledAndResumed(t *testing.T) {
	created, key, pub, env := unsignedBundleDir(t)
	for _, name := range []string{"manifest.dsse", "public-key.pem", "index.json", "SHA256SUMS", "SHA256SUMS.sig"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			copyDir(t, created, dir)
			sign := []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key}
			killAtRename(t, env, filepath.Join(dir, name), sign...)
			if tmps := temporaries(t, dir); len(tmps) != 1 || !strings.HasPrefix(tmps[0], "."+name+".tmp-") {
				t.Fatalf("killed before %s took its name, the bundle holds %v", name, tmps)
			}
			if r := stella(t, env, sign...); r.code != 0 {
				t.Fatalf("sign again: exit %d\n%s", r.code, r.stderr)
			}
			if tmps := temporaries(t, dir); len(tmps) != 0 {
				t.Errorf("left in the bundle: %v", tmps)
			}
			mustStella(t, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
			mustStella(t, "mirror", "verify-checksums", dir, "--key", pub)
		})
	}
}

// TestPackKilledAndResumed kills pack as it is about to rename its archive,
// a volume, the list's signature or the volume list into place, then runs
// the same command again: it removes what the killed run left (as large as
// the archive: on media sized for it, the re-run would not fit), and what
// it wrote verifies. Volumes that took their names before the kill are
// replaced without --force: the record the killed run wrote before
// renaming any (.OUT.volumes.pending) lists each, with its size and
// digest, and no list took its name. A volume that is no longer as the
// record says (here one byte changed) is not the killed run's: the re-run
// names it and asks for --force, as for any volumes there.
func TestPackKilledAndResumed(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{BaseLayerSize: 3 << 20}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	env := []string{"COSIGN_PASSWORD=stellaops-dev"}
	tests := []struct {
		name, output, killAt, verify string
		args                         []string
	}{
		{"archive", "b.tar.zst", "b.tar.zst", "b.tar.zst", nil},
		{"split, at a volume", "b.tar", "b.tar.001", "b.tar.volumes.json", []string{"--split", "1M"}},
		{"split, at the list", "b.tar", "b.tar.volumes.json", "b.tar.volumes.json", []string{"--split", "1M"}},
		{"split signed, at the list", "b.tar", "b.tar.volumes.json", "b.tar.volumes.json", []string{"--split", "1M", "--key", key}},
		{"split signed, at the signature", "b.tar", "b.tar.volumes.dsse", "b.tar.volumes.json", []string{"--split", "1M", "--key", key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := t.TempDir()
			pack := append([]string{"mirror", "pack", dir, "--output", filepath.Join(media, tt.output)}, tt.args...)
			killAtRename(t, env, filepath.Join(media, tt.killAt), pack...)
			if len(temporaries(t, media)) == 0 {
				t.Fatal("killed before a rename, pack left no temporary file")
			}
			if _, err := os.Lstat(filepath.Join(media, tt.verify)); err == nil {
				t.Fatalf("killed before the end, %s is there", tt.verify)
			}
			if r := stella(t, env, pack...); r.code != 0 {
				t.Fatalf("pack again: exit %d\n%s", r.code, r.stderr)
			}
			if tmps := temporaries(t, media); len(tmps) != 0 {
				t.Errorf("left on the media: %v", tmps)
			}
			if tt.args != nil {
				if _, err := os.Lstat(filepath.Join(media, ".b.tar.volumes.pending")); err == nil {
					t.Error("the record of the volumes being placed is left on the media")
				}
			}
			mustStella(t, "mirror", "verify", filepath.Join(media, tt.verify), "--key", pub)
		})
	}
	t.Run("split, a volume changed since", func(t *testing.T) {
		media := t.TempDir()
		pack := []string{"mirror", "pack", dir, "--output", filepath.Join(media, "b.tar"), "--split", "1M"}
		killAtRename(t, env, filepath.Join(media, "b.tar.volumes.json"), pack...)
		first := filepath.Join(media, "b.tar.000")
		data, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(first, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := stella(t, env, pack...)
		if r.code != 1 || !strings.Contains(r.stderr, "b.tar.000: already exists (use --force to replace it)") {
			t.Fatalf("pack again over a volume changed since the kill: exit %d\n%s", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(first); !bytes.Equal(got, data) {
			t.Fatal("the refused run changed the volume")
		}
		mustStella(t, append(pack, "--force")...)
		mustStella(t, "mirror", "verify", filepath.Join(media, "b.tar.volumes.json"), "--key", pub)
	})
}

// TestPackRefusesUnfinishedSign stops sign between its last two renames,
// on a bundle signed for the first time and on one signed again: pack and
// push of the directory then refuse it, and write nothing. The old order
// (SHA256SUMS, then its signature) let pack carry a SHA256SUMS.sig over
// another list (or none), and push carried a stale SHA256SUMS up with the
// bundle: verify and import accept both, and the far side's
// verify-checksums or `cosign verify-blob` refuse them. Signed again, the
// bundle packs and pushes.
func TestPackRefusesUnfinishedSign(t *testing.T) {
	created, key, pub, env := unsignedBundleDir(t)
	for _, resign := range []bool{false, true} {
		for _, name := range []string{"SHA256SUMS.sig", "SHA256SUMS"} {
			t.Run(fmt.Sprintf("%s, signed before %v", name, resign), func(t *testing.T) {
				work := t.TempDir()
				dir := filepath.Join(work, "bundle")
				copyDir(t, created, dir)
				sign := []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key}
				if resign {
					if r := stella(t, env, sign...); r.code != 0 {
						t.Fatalf("sign: exit %d\n%s", r.code, r.stderr)
					}
				}
				killAtRename(t, env, filepath.Join(dir, name), sign...)
				archive := filepath.Join(work, "bundle.tar")
				if r := stella(t, nil, "mirror", "pack", dir, "--output", archive); r.code == 0 {
					t.Fatalf("pack of an unfinished sign: exit 0\n%s", r.stdout)
				}
				if entries, _ := os.ReadDir(work); len(entries) != 1 {
					t.Fatalf("pack refused, and left %d entries beside the bundle", len(entries)-1)
				}
				registry := testutil.Registry(t)
				push := []string{"mirror", "push", dir, registry + "/stellaops/mirror-bundle", "--plain-http", "--key", pub}
				if r := stella(t, nil, push...); r.code == 0 || !strings.Contains(r.stderr, "run sign again") {
					t.Fatalf("push of an unfinished sign: exit %d\n%s", r.code, r.stderr)
				}
				for repo, tags := range testutil.Tags(t, registry) {
					if len(tags) > 0 {
						t.Errorf("refused push left tags in %s: %v", repo, tags)
					}
				}
				if r := stella(t, env, sign...); r.code != 0 {
					t.Fatalf("sign again: exit %d\n%s", r.code, r.stderr)
				}
				mustStella(t, "mirror", "pack", dir, "--output", archive)
				mustStella(t, "mirror", "verify-checksums", dir, "--key", pub)
				mustStella(t, push...)
			})
		}
	}
}

// TestCreateAndPullKilledAndResumed kills create (a directory, a signed
// archive in one pass, a delta) and pull as each is about to give its
// output its name, then runs the same command again: it succeeds, and
// nothing of the killed run is left (its staging directory and archive
// are as large as the bundle: on media sized for it, the re-run would
// not fit).
func TestCreateAndPullKilledAndResumed(t *testing.T) {
	source := testutil.Distribution(t)
	rel, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	key, pub, env := devKeyPair(t)
	archive, _, _ := signedBundle(t, sample.Spec{}, ".tar")
	registry := testutil.Distribution(t)
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)
	inventory := filepath.Join(t.TempDir(), "inventory.json")
	if r := stella(t, env, "mirror", "inventory", "--registry", registry, "--plain-http", "--output", inventory, "--key", key, "--bundle-key", pub); r.code != 0 {
		t.Fatal(r.stderr)
	}
	create := []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--plain-http"}
	tests := []struct {
		name, output string
		args         []string
		check        []string // after the output's path
	}{
		{"create", "bundle", create, []string{"mirror", "verify-checksums"}},
		{"create --output F.tar --key", "bundle.tar", append(create[:len(create):len(create)], "--key", key), []string{"mirror", "verify", "--key", pub}},
		{"create --base", "delta", append(create[:len(create):len(create)], "--base", inventory, "--base-key", pub), []string{"mirror", "verify-checksums"}},
		{"pull", "pulled", []string{"mirror", "pull", registry + "/stellaops/mirror-bundle:" + rel.Spec.Version, "--plain-http", "--key", pub}, []string{"mirror", "verify-checksums", "--key", pub}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := t.TempDir()
			out := filepath.Join(media, tt.output)
			args := append(tt.args[:len(tt.args):len(tt.args)], "--output", out)
			if tt.name == "pull" {
				args = append(tt.args[:len(tt.args):len(tt.args)], out)
			}
			killAtRename(t, env, out, args...)
			if len(temporaries(t, media)) == 0 {
				t.Fatal("killed before its output took its name, it left nothing to clean")
			}
			if _, err := os.Lstat(out); err == nil {
				t.Fatalf("killed before the end, %s is there", out)
			}
			if r := stella(t, env, args...); r.code != 0 {
				t.Fatalf("again: exit %d\n%s", r.code, r.stderr)
			}
			if tmps := temporaries(t, media); len(tmps) != 0 {
				t.Errorf("left on the media: %v", tmps)
			}
			check := append(tt.check[:2:2], out)
			mustStella(t, append(check, tt.check[2:]...)...)
		})
	}
}

// TestKeygenKilledAndResumed kills keygen as it is about to give the
// private key its name (the public key has its own): the pair is not
// replaced without --force; a pair it was replacing (--force) is left
// mismatched, the new public key beside the old private key, which sign
// with that key points out; keygen --force then writes a pair and removes
// the killed run's temporary files, one of which holds a private key,
// hidden where a removed key pair would seem gone.
func TestKeygenKilledAndResumed(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force %v", force), func(t *testing.T) {
			dir := t.TempDir()
			prefix := filepath.Join(dir, "cosign")
			env := []string{"COSIGN_PASSWORD=x"}
			keygen := []string{"mirror", "keygen", "--output-key-prefix", prefix}
			if force {
				if r := stella(t, env, keygen...); r.code != 0 {
					t.Fatal(r.stderr)
				}
				keygen = append(keygen, "--force")
			}
			killAtRename(t, env, prefix+".key", keygen...)
			if len(temporaries(t, dir)) == 0 {
				t.Fatal("killed before the private key took its name, keygen left no temporary file")
			}
			if r := stella(t, env, "mirror", "keygen", "--output-key-prefix", prefix); r.code != 1 || !strings.Contains(r.stderr, "already exists (use --force to replace it)") {
				t.Fatalf("keygen over the killed run's key: exit %d\n%s", r.code, r.stderr)
			}
			if force {
				// The new public key beside the old private key: sign
				// with it says so, naming the public key.
				manifest := filepath.Join(t.TempDir(), "manifest.json")
				os.WriteFile(manifest, []byte("{}\n"), 0o644)
				r := stella(t, env, "mirror", "sign", manifest, "--key", prefix+".key")
				if r.code != 0 || !strings.Contains(r.stderr, "the public key beside the signing key is another key's") || !strings.Contains(r.stderr, prefix+".pub") {
					t.Fatalf("sign with the old key beside the new public key: exit %d\n%s", r.code, r.stderr)
				}
			}
			r := stella(t, env, "mirror", "keygen", "--output-key-prefix", prefix, "--force", "--format", "json")
			if r.code != 0 {
				t.Fatalf("keygen --force: exit %d\n%s", r.code, r.stderr)
			}
			if tmps := temporaries(t, dir); len(tmps) != 0 {
				t.Errorf("left beside the keys: %v", tmps)
			}
			// The pair is one: what the key signs, the public key verifies.
			manifest := filepath.Join(dir, "manifest.json")
			os.WriteFile(manifest, []byte("{}\n"), 0o644)
			if r := stella(t, env, "mirror", "sign", manifest, "--key", prefix+".key"); r.code != 0 || r.stderr != "" {
				t.Fatalf("sign: exit %d\n%s", r.code, r.stderr)
			}
			mustStella(t, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", prefix+".pub")
		})
	}
}

// TestImportAdvisoriesKilledAndResumed kills import as it is about to
// rename the first advisory into --advisories-dir: the same import again
// writes every advisory and removes the killed run's temporary files (as
// large as the advisories, they stayed hidden in the directory for good).
func TestImportAdvisoriesKilledAndResumed(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	target := testutil.Distribution(t)
	dir := filepath.Join(t.TempDir(), "advisories")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	imp := []string{"mirror", "import", archive, "--registry", target, "--plain-http", "--key", pub, "--advisories-dir", dir}
	killAtRename(t, nil, dir, imp...)
	if len(temporaries(t, dir)) == 0 {
		t.Fatal("killed before the first advisory took its name, import left no temporary file")
	}
	mustStella(t, imp...)
	if tmps := temporaries(t, dir); len(tmps) != 0 {
		t.Errorf("left among the advisories: %v", tmps)
	}
	want, _ := os.ReadDir(filepath.Join(filepath.Dir(archive), "bundle", "advisories"))
	for _, e := range want {
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(archive), "bundle", "advisories", e.Name()))
		if err != nil || string(got) != string(data) {
			t.Errorf("%s: not the bundle's (%v)", e.Name(), err)
		}
	}
}

// TestPackSplitForceKilled kills pack --split --force, replacing a set of
// other volumes, as it renames its second volume: the old list is gone by
// then, so the names do not read as a whole set (an old list over volumes
// partly new, which only a check of every volume would find); --force
// again writes the new set.
func TestPackSplitForceKilled(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{BaseLayerSize: 3 << 20}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	media := t.TempDir()
	out := filepath.Join(media, "b.tar")
	mustStella(t, "mirror", "pack", dir, "--output", out, "--split", "2M")
	pack := []string{"mirror", "pack", dir, "--output", out, "--split", "1M", "--force"}
	killAtRename(t, nil, out+".001", pack...)
	if _, err := os.Lstat(out + ".volumes.json"); err == nil {
		t.Error("killed while replacing the volumes, the old list is still there")
	}
	mustStella(t, pack...)
	if tmps := temporaries(t, media); len(tmps) != 0 {
		t.Errorf("left on the media: %v", tmps)
	}
	mustStella(t, "mirror", "verify", out+".volumes.json", "--key", pub)
}

// TestInventoryKilled kills inventory --key, replacing a signed inventory,
// as its new signature is about to take its name: the old signature is
// gone by then, so the new inventory does not sit beside a signature over
// the old one (a pair that reads whole, and fails as a mismatch); create
// --base refuses the unsigned inventory, and inventory again writes the
// pair.
func TestInventoryKilled(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	env := []string{"COSIGN_PASSWORD=stellaops-dev"}
	target := testutil.Distribution(t)
	out := filepath.Join(t.TempDir(), "inventory.json")
	inventory := []string{"mirror", "inventory", "--registry", target, "--plain-http", "--output", out, "--key", key, "--bundle-key", pub}
	if r := stella(t, env, inventory...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	mustStella(t, "mirror", "import", archive, "--registry", target, "--plain-http", "--key", pub)
	sig := strings.TrimSuffix(out, ".json") + ".dsse"
	killAtRename(t, env, sig, inventory...)
	if _, err := os.Lstat(sig); err == nil {
		t.Error("killed before the new signature took its name, the old one is beside the new inventory")
	}
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	create := []string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--plain-http",
		"--output", filepath.Join(t.TempDir(), "delta"), "--base", out, "--base-key", pub}
	if r := stella(t, nil, create...); r.code != 5 || !strings.Contains(r.stderr, "no signature beside it") {
		t.Errorf("create --base an inventory whose signature is missing: exit %d, want 5 (no signature)\n%s", r.code, r.stderr)
	}
	if r := stella(t, env, inventory...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	mustStella(t, create...)
}

// TestCatalogOutputKilled kills catalog --output, replacing the files of
// an earlier run, as the new envelope is about to take its name: the old
// envelope is gone by then (it was written in either order, and left
// beside the new catalog.json, a pair that read whole); catalog again
// writes both.
func TestCatalogOutputKilled(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	env := []string{"COSIGN_PASSWORD=stellaops-dev"}
	registry := testutil.Distribution(t)
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)
	out := t.TempDir()
	catalog := []string{"mirror", "catalog", registry + "/stellaops/mirror-bundle", "--key", key, "--plain-http", "--output", out}
	if r := stella(t, env, catalog...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	killAtRename(t, env, filepath.Join(out, "catalog.dsse"), catalog...)
	if _, err := os.Lstat(filepath.Join(out, "catalog.dsse")); err == nil {
		t.Error("killed before the new envelope took its name, the old one is still there")
	}
	if r := stella(t, env, catalog...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, name := range []string{"catalog.json", "catalog.dsse"} {
		if _, err := os.Lstat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

// unsignedBundleDir creates an unsigned bundle directory of the sample
// release and returns it with the dev key pair and the environment that
// opens the key.
func unsignedBundleDir(t *testing.T) (dir, key, pub string, env []string) {
	t.Helper()
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	dir = filepath.Join(t.TempDir(), "bundle")
	mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir, "--plain-http")
	key, pub, env = devKeyPair(t)
	return dir, key, pub, env
}

// devKeyPair returns the dev key pair in tools/cosign and the environment
// that opens its private key.
func devKeyPair(t *testing.T) (key, pub string, env []string) {
	root := testutil.ModuleRoot(t)
	return filepath.Join(root, "tools/cosign/cosign.dev.key"), filepath.Join(root, "tools/cosign/cosign.pub"), []string{"COSIGN_PASSWORD=stellaops-dev"}
}

// TestSignKilledRemovingOldSignature kills a sign of a signed bundle as it
// removes each blob of the old signature (its referrer manifest, its
// envelope). The bundle is then refused as a sign that did not finish,
// saying to run sign again, and signed again it verifies, checksums and
// all. sign removed them after writing SHA256SUMS: killed there, it left
// blobs no manifest reaches beside a SHA256SUMS that verifies, which
// verify refused as a malformed bundle (exit 11) with no word of the
// sign, as did import and push.
func TestSignKilledRemovingOldSignature(t *testing.T) {
	created, key, pub, env := unsignedBundleDir(t)
	signed := filepath.Join(t.TempDir(), "bundle")
	copyDir(t, created, signed)
	if r := stella(t, env, "mirror", "sign", filepath.Join(signed, "manifest.json"), "--key", key); r.code != 0 {
		t.Fatalf("sign: exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(signed, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct{ Digest, ArtifactType string }
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	var referrer string
	for _, m := range index.Manifests {
		if m.ArtifactType == "application/vnd.dsse.envelope.v1+json" {
			referrer = strings.TrimPrefix(m.Digest, "sha256:")
		}
	}
	data, err = os.ReadFile(filepath.Join(signed, "blobs/sha256", referrer))
	if err != nil {
		t.Fatalf("the referrer %s: %v", referrer, err)
	}
	var manifest struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(data, &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("the referrer %s: %v", referrer, err)
	}
	envelope := strings.TrimPrefix(manifest.Layers[0].Digest, "sha256:")
	strace := tool(t, "strace")
	for name, blob := range map[string]string{"referrer": referrer, "envelope": envelope} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			copyDir(t, signed, dir)
			path := filepath.Join(dir, "blobs/sha256", blob)
			sign := []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key}
			r := runStella(t, env, strace, append([]string{"-f", "-qq", "-o", os.DevNull, "-P", path,
				"-e", "inject=unlinkat:signal=SIGKILL:when=1", stellaBin}, sign...)...)
			if r.code == 0 || r.stderr != "" {
				t.Fatalf("not killed at the removal of %s: exit %d\n%s", path, r.code, r.stderr)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Fatalf("killed before its removal, %s: %v", path, err)
			}
			r = stella(t, nil, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
			if r.code != 0 && !strings.Contains(r.stderr, "run sign again") {
				t.Errorf("verify of a bundle whose sign was killed: exit %d, want 0 or a message saying to run sign again\n%s", r.code, r.stderr)
			}
			if r := stella(t, env, sign...); r.code != 0 {
				t.Fatalf("sign again: exit %d\n%s", r.code, r.stderr)
			}
			mustStella(t, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
			mustStella(t, "mirror", "verify-checksums", dir, "--key", pub)
		})
	}
}

// TestSignKilledBeforeItsIndex kills sign, of a bundle signed for the
// first time and of one signed again, as manifest.dsse is about to take
// its name: its temporary file is there, and the new signature's blobs,
// which nothing reaches yet, beside the head files as they were. verify
// then says a sign did not finish and to run it again (exit 11), also
// with the blobs alone (killed a moment before), and signed again the
// bundle verifies. It refused the bundle as malformed with no word of the
// sign ("not part of the bundle", "no manifest of the bundle reaches it").
func TestSignKilledBeforeItsIndex(t *testing.T) {
	created, key, pub, env := unsignedBundleDir(t)
	for _, resign := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed before %v", resign), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			copyDir(t, created, dir)
			sign := []string{"mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key}
			if resign {
				if r := stella(t, env, sign...); r.code != 0 {
					t.Fatalf("sign: exit %d\n%s", r.code, r.stderr)
				}
			}
			killAtRename(t, env, filepath.Join(dir, "manifest.dsse"), sign...)
			if resign {
				// Then as killed before manifest.dsse's temporary file
				// was made: the new signature's blobs alone.
				for _, cut := range []string{"at the rename", "before the temporary file"} {
					if cut != "at the rename" {
						for _, tmp := range temporaries(t, dir) {
							os.Remove(filepath.Join(dir, tmp))
						}
					}
					r := stella(t, nil, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
					if r.code != 0 && !strings.Contains(r.stderr, "run sign again") {
						t.Errorf("verify of a bundle whose sign was killed %s: exit %d, want 0 or a message saying to run sign again\n%s", cut, r.code, r.stderr)
					}
				}
			}
			if r := stella(t, env, sign...); r.code != 0 {
				t.Fatalf("sign again: exit %d\n%s", r.code, r.stderr)
			}
			mustStella(t, "mirror", "verify", filepath.Join(dir, "manifest.dsse"), "--key", pub)
		})
	}
}
