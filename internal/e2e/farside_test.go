package e2e

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// uploadSessions lists the upload sessions a distribution registry holds
// in its storage (each a directory under a repository's _uploads) with
// data in them: a partial upload nobody will complete.
func uploadSessions(t *testing.T, storage string) []string {
	t.Helper()
	var held []string
	err := filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "data" && strings.Contains(path, "/_uploads/") {
			if st, err := os.Stat(path); err == nil && st.Size() > 0 {
				held = append(held, strings.TrimPrefix(path, storage))
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return held
}

// TestImportAcrossARegistryRestart restarts the far side's registry (on
// the same port and storage, with no http.secret, as distribution's
// sample configuration) while another tool's .tar.gz streams into it.
// The import failed: `PATCH …: response status code 404: blob upload
// invalid: invalid secret: the registry lost the upload session`, exit 1,
// and the session's bytes stayed on the registry's disk. Now it goes on
// from where each upload stood: exit 0, the release tagged, no partial
// upload left behind.
func TestImportAcrossARegistryRestart(t *testing.T) {
	// A 20 MiB base layer: a stream goes up in 8 MiB chunks, so its
	// session takes two PATCHes before the PUT that completes it.
	archive, pub, rel := signedBundle(t, sample.Spec{BaseLayerSize: 20 << 20, LayerSize: 1 << 20}, ".tar")
	archive = testutil.ForeignArchive(t, archive, "bundle.tar.gz")
	reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
	var patches atomic.Int64
	restarted := make(chan error, 1)
	host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The second PATCH: the base layer is part-way up.
			if r.Method == http.MethodPatch && patches.Add(1) == 2 {
				restarted <- reg.Restart()
			}
			next.ServeHTTP(w, r)
		})
	})
	r := stella(t, nil, "mirror", "import", archive, "--registry", host, "--plain-http", "--key", pub, "--allow-expired")
	select {
	case err := <-restarted:
		if err != nil {
			t.Fatalf("restart: %v", err)
		}
	default:
		t.Fatalf("the registry was not restarted: the import sent %d PATCHes (exit %d)", patches.Load(), r.code)
	}
	if r.code != 0 {
		t.Fatalf("import across a registry restart: exit %d\n%s", r.code, r.stderr)
	}
	tags := testutil.Tags(t, reg.Host)
	for _, img := range rel.Images {
		if !contains(tags[img.Repository], rel.Spec.Version) {
			t.Errorf("%s holds tags %v, want %s", img.Repository, tags[img.Repository], rel.Spec.Version)
		}
	}
	if left := uploadSessions(t, reg.Storage()); len(left) > 0 {
		t.Errorf("partial uploads left on the registry's disk: %v", left)
	}
}

// maxInFlight is how many blob requests a run at --concurrency n has in
// flight at most: n largest first and the small ones beside them
// (transfer.LargestFirstWithSmall), for the images' blobs and for the
// bundle's own repository's beside them.
func maxInFlight(n int) int64 { return int64(2 * (n + transfer.SmallWorkers(n))) }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TestRegistryStorageFull fills the far side's registry's storage (a
// 12 MiB tmpfs) with an import, a push and a sync of a 29 MiB release.
// Each failed after some eight seconds of retries (a retry storm: every
// retried POST left one more empty session on the full disk, 43 of them)
// with the registry's bare `500 … unknown error: …: no space left on
// device`. Now the first answer naming a full storage ends the run: one
// line naming the registry, the repository and the blob, saying its
// storage is full and what to do, exit 1, no tag; 5xx answers no more
// than the requests in flight at once. Once space is freed, the same command
// sends only what is missing.
func TestRegistryStorageFull(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{BaseLayerSize: 8 << 20, LayerSize: 3 << 20}, ".tar.zst")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	src := testutil.Distribution(t)
	mustStella(t, "mirror", "push", dir, src+"/stellaops/mirror-bundle", "--plain-http", "--key", pub, "--allow-expired")
	const concurrency = 4
	commands := map[string]func(host string) []string{
		"import": func(host string) []string {
			return []string{"mirror", "import", archive, "--registry", host}
		},
		"push": func(host string) []string {
			return []string{"mirror", "push", dir, host + "/stellaops/mirror-bundle"}
		},
		"sync": func(host string) []string {
			return []string{"mirror", "sync", src + "/stellaops/mirror-bundle:" + rel.Spec.Version, host + "/stellaops/mirror-bundle"}
		},
	}
	for name, command := range commands {
		t.Run(name, func(t *testing.T) {
			storage := smallMedium(t, "12m")
			reg := testutil.DistributionWith(t, testutil.DistributionOptions{Storage: storage})
			host, faults := countingFaults(t, reg)
			args := append(command(host), "--plain-http", "--key", pub, "--allow-expired", "--concurrency", strconv.Itoa(concurrency))
			r := stella(t, nil, args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			// The storage fills on an upload ("push blob sha256:… to
			// HOST/REPO") or, as often, on a mount of a blob sent already
			// into another repository ("mount blob sha256:… into
			// HOST/REPO"): either names the repository.
			names := strings.Contains(lines[0], " to "+host+"/stellaops/") || strings.Contains(lines[0], " into "+host+"/stellaops/")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "registry "+host+": its storage is full: free space on it") ||
				!names || !strings.Contains(lines[0], "blob sha256:") {
				t.Errorf("%s to a full registry: exit %d, want 1 with one line naming the registry, the repository and the blob, saying its storage is full\nstderr: %s", name, r.code, r.stderr)
			}
			if n := faults.Load(); n > maxInFlight(concurrency) {
				t.Errorf("the registry answered 5xx %d times to a run of %d blobs at once: a full storage was tried again", n, concurrency)
			}
			for repo, tags := range testutil.Tags(t, reg) {
				if len(tags) > 0 {
					t.Errorf("a %s that failed left tags in %s: %v", name, repo, tags)
				}
			}
			if out, err := exec.Command("mount", "-o", "remount,size=128m", storage).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
			r = mustStella(t, append(args, "--format", "json")...)
			var res mirror.PlaceResult
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			if res.Blobs.Skipped == 0 {
				t.Errorf("the run after space was freed sent every blob again: %+v", res.Blobs)
			}
		})
	}
}

// statusWriter records the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// TestRegistryTakesNoPush imports into a registry in read-only mode
// (storage.maintenance.readonly, a maintenance window) and into a
// pull-through cache (proxy.remoteurl). Both failed with the registry's
// bare `response status code 405: Method Not Allowed` (or `unsupported:
// The operation is unsupported.`), and doctor's push check said no more.
// Now one line says the registry is in read-only mode, or takes no push,
// before any byte is sent: exit 1, nothing written, advisories included;
// doctor's push check says it too.
func TestRegistryTakesNoPush(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	for name, tt := range map[string]struct {
		opts testutil.DistributionOptions
		want string
	}{
		"read-only": {testutil.DistributionOptions{ReadOnly: true}, " is in read-only mode: it allows only GET, HEAD"},
		"pull-through cache": {testutil.DistributionOptions{ProxyRemote: "http://" + testutil.Distribution(t)},
			" takes no push: it is in read-only mode (a maintenance window) or a pull-through cache (proxy.remoteurl)"},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testutil.DistributionWith(t, tt.opts)
			var sent atomic.Int64
			host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.ContentLength > 0 {
						sent.Add(r.ContentLength)
					}
					next.ServeHTTP(w, r)
				})
			})
			advisories := filepath.Join(t.TempDir(), "advisories")
			r := stella(t, nil, "mirror", "import", archive, "--registry", host, "--plain-http", "--key", pub, "--allow-expired", "--advisories-dir", advisories)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "registry "+host+tt.want) {
				t.Errorf("import: exit %d, want 1 with one line saying %q\nstderr: %s", r.code, tt.want, r.stderr)
			}
			if n := sent.Load(); n > 0 {
				t.Errorf("import sent %d bytes to a registry that takes no push", n)
			}
			if left, _ := os.ReadDir(advisories); len(left) > 0 {
				t.Errorf("import wrote %d advisories though it placed nothing", len(left))
			}
			r = stella(t, nil, "mirror", "doctor", "--registry", host, "--plain-http")
			if r.code != 1 || !strings.Contains(r.stdout, "FAIL  push") || !strings.Contains(r.stdout, tt.want) {
				t.Errorf("doctor: exit %d, want 1 with the push check saying %q\nstdout: %s", r.code, tt.want, r.stdout)
			}
		})
	}
	// A registry that holds the bundle already, put in read-only mode: the
	// import's first write was a tag, whose 405 failed the re-run
	// (`takes no push: it is in read-only mode`), a re-run operators make
	// as a check. Every tag already names its manifest: nothing is
	// written, exit 0, the tags counted as in place. With --catalog-key,
	// the re-run signed the catalog again (a new generatedAt), a write
	// refused (`push blob … is in read-only mode`, exit 1): the catalog,
	// current, is now left as it is.
	t.Run("read-only, holding the bundle", func(t *testing.T) {
		reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
		catalogKey := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
		env := []string{"COSIGN_PASSWORD=stellaops-dev"}
		args := []string{"mirror", "import", archive, "--registry", reg.Host, "--plain-http", "--key", pub, "--allow-expired", "--format", "json", "--catalog-key", catalogKey}
		var first mirror.PlaceResult
		if r := stella(t, env, args...); r.code != 0 || json.Unmarshal([]byte(r.stdout), &first) != nil {
			t.Fatalf("import: exit %d\nstderr: %s", r.code, r.stderr)
		}
		if err := reg.RestartWith(testutil.DistributionOptions{ReadOnly: true}); err != nil {
			t.Fatal(err)
		}
		var writes atomic.Int64
		host := testutil.ProxyWrapped(t, reg.Host, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					writes.Add(1)
				}
				next.ServeHTTP(w, r)
			})
		})
		args[4] = host
		r := stella(t, env, args...)
		var again mirror.PlaceResult
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &again) != nil {
			t.Fatalf("re-import into a read-only registry holding the bundle: exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if n := writes.Load(); n != 0 || again.Tags != 0 || again.TagsInPlace != first.Tags {
			t.Errorf("re-import: %d writes sent, %d tags written, %d in place; want none sent, %d in place", n, again.Tags, again.TagsInPlace, first.Tags)
		}
		// A push of the same bundle into its repository there: in place too.
		r = stella(t, nil, "mirror", "push", archive, host+"/stellaops/mirror-bundle", "--plain-http", "--key", pub, "--allow-expired")
		if r.code != 0 || writes.Load() != 0 || !strings.Contains(r.stdout, "0 tags written, 1 already in place") {
			t.Errorf("push into a read-only registry holding the bundle: exit %d, %d writes sent, want 0 and none\nstdout: %s\nstderr: %s", r.code, writes.Load(), r.stdout, r.stderr)
		}
	})
}

// TestRegistryRepositoryUnwritable breaks the registry's storage for one
// repository (its directory immutable, chattr +i: unwritable even for
// root, as a directory of another owner is for a registry running as its
// own user). The import failed after some eight seconds of retries, with
// the registry's bare `500 … unknown error: filesystem: mkdir …: operation
// not permitted`. Now at the first answer: one line naming the repository
// and the blob, saying the registry may not write its storage there, exit
// 1, no tag; once the directory is mended, the same command completes.
func TestRegistryRepositoryUnwritable(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	storage := t.TempDir()
	broken := filepath.Join(storage, "docker/registry/v2/repositories/stellaops/authority")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", broken).CombinedOutput(); err != nil {
		t.Skipf("cannot make a directory immutable (needs root and chattr): %v: %s", err, out)
	}
	mend := func() { exec.Command("chattr", "-i", broken).Run() }
	t.Cleanup(mend) // before t.TempDir's removal, which cleanups run after
	reg := testutil.DistributionWith(t, testutil.DistributionOptions{Storage: storage})
	host, faults := countingFaults(t, reg)
	const concurrency = 4
	args := []string{"mirror", "import", archive, "--registry", host, "--plain-http", "--key", pub, "--allow-expired", "--concurrency", strconv.Itoa(concurrency)}
	r := stella(t, nil, args...)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], " to "+host+"/stellaops/authority: ") ||
		!strings.Contains(lines[0], "registry "+host+": it may not write its storage there") {
		t.Errorf("import: exit %d, want 1 with one line naming stellaops/authority and saying the registry may not write its storage there\nstderr: %s", r.code, r.stderr)
	}
	if n := faults.Load(); n > maxInFlight(concurrency) {
		t.Errorf("the registry answered 5xx %d times: an unwritable storage was tried again", n)
	}
	for repo, tags := range testutil.Tags(t, reg) {
		if len(tags) > 0 {
			t.Errorf("the failed import left tags in %s: %v", repo, tags)
		}
	}
	mend()
	mustStella(t, args...)
	if tags := testutil.Tags(t, reg)["stellaops/authority"]; !contains(tags, rel.Spec.Version) {
		t.Errorf("stellaops/authority holds %v after the storage was mended, want %s", tags, rel.Spec.Version)
	}
}

// TestImportAfterGarbageCollection removes an image's tag from the far
// side's registry and runs its garbage collector, which drops the image's
// layers from its repository; the bundle imported again notices (it asks
// about every blob, whatever manifests are there) and sends them again:
// exit 0, the image whole and tagged. (No defect was found here; this
// keeps it so.)
func TestImportAfterGarbageCollection(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	reg := testutil.DistributionRestartable(t, testutil.DistributionOptions{})
	args := []string{"mirror", "import", archive, "--registry", reg.Host, "--plain-http", "--key", pub, "--allow-expired", "--format", "json"}
	mustStella(t, args...)
	img := rel.Images[0]
	client := testutil.Client(t)
	repo, err := client.Repository(reg.Host + "/" + img.Repository)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Delete(t, reg.Host, img.Repository, "manifests", rel.Spec.Version)
	if err := reg.GarbageCollect(); err != nil {
		t.Fatal(err)
	}
	layers := imageBlobs(t, repo, img.Descriptor)
	var lost int64
	for _, d := range layers {
		if ok, err := repo.Blobs().Exists(t.Context(), d); err == nil && !ok {
			lost++
		}
	}
	if lost == 0 {
		t.Fatalf("garbage collection left every blob of %s: the test would prove nothing", img.Repository)
	}
	r := mustStella(t, args...)
	var res mirror.PlaceResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.Blobs.Sent+res.Blobs.Mounted < lost {
		t.Errorf("the import after garbage collection sent %d and mounted %d blobs; the registry had lost %d", res.Blobs.Sent, res.Blobs.Mounted, lost)
	}
	for _, d := range layers {
		if ok, err := repo.Blobs().Exists(t.Context(), d); err != nil || !ok {
			t.Errorf("%s lacks %s after the import: %v", img.Repository, d.Digest, err)
		}
	}
	if d, err := repo.Resolve(t.Context(), rel.Spec.Version); err != nil || d.Digest != img.Descriptor.Digest {
		t.Errorf("%s:%s = %s (%v), want %s", img.Repository, rel.Spec.Version, d.Digest, err, img.Descriptor.Digest)
	}
}

// imageBlobs returns the config and layers of every manifest under the
// image desc (an index's, or its own) in repo.
func imageBlobs(t *testing.T, repo *oremote.Repository, desc ocispec.Descriptor) []ocispec.Descriptor {
	t.Helper()
	data, err := content.FetchAll(t.Context(), repo, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Config    ocispec.Descriptor   `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	blobs := m.Layers
	if m.Config.Digest != "" {
		blobs = append(blobs, m.Config)
	}
	for _, c := range m.Manifests {
		blobs = append(blobs, imageBlobs(t, repo, c)...)
	}
	return blobs
}

// countingFaults puts a proxy in front of the registry reg that counts
// the registry's 5xx answers, and returns its address and the count. A
// 502 is the proxy's own, for a request the client gave up (the run
// ending), and is not counted.
func countingFaults(t *testing.T, reg string) (string, *atomic.Int64) {
	t.Helper()
	faults := new(atomic.Int64)
	host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status >= 500 && sw.status != http.StatusBadGateway {
				faults.Add(1)
			}
		})
	})
	return host, faults
}

// TestImportUnreadableArchive: an archive the user running stella may not
// read (chmod 000) was told `bundle.tar: not found`. It is one line naming
// the file and saying to check its permissions, exit 1, and nothing
// tagged. Root reads any file, so as root (CI) the binary runs without the
// capabilities that let it (setpriv drops CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH), where pkg/mirror's TestImportUnreadableFile skips.
func TestImportUnreadableArchive(t *testing.T) {
	archive, pub, _ := signedBundle(t, sample.Spec{}, ".tar")
	if err := os.Chmod(archive, 0); err != nil {
		t.Fatal(err)
	}
	target := testutil.Distribution(t)
	name, args := stellaBin, []string{"mirror", "import", archive, "--registry", target, "--plain-http", "--key", pub}
	if os.Geteuid() == 0 {
		name = tool(t, "setpriv")
		args = append([]string{"--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search", stellaBin}, args...)
	}
	r := runStella(t, nil, name, args...)
	want := archive + ": permission denied (this user may not read the file: check its permissions and ownership"
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || strings.Contains(r.stderr, "not found") {
		t.Errorf("import of an unreadable archive: exit %d, stderr %q; want exit 1, one line %q…", r.code, r.stderr, want)
	}
	if tags := testutil.Tags(t, target); len(tags) != 0 {
		t.Errorf("import wrote tags %v", tags)
	}
}
