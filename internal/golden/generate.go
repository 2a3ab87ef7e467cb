package golden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/keys"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// Created is every golden bundle's createdAt (deltas a day later); the
// bundles are valid for validFor after it, and read at Created plus an
// hour.
var Created = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)

// validFor keeps a golden bundle importable at any clock a developer may
// try it at by hand; the tests read it at a fixed time all the same.
const validFor = 100 * 365 * 24 * time.Hour

// spec is the golden release: the sample's five components over tiny
// layers, so that a generation stays far below a megabyte.
var spec = sample.Spec{Seed: 20251201, BaseLayerSize: 2 << 10, LayerSize: 1 << 10}

// deltaSpec is the next release: two components changed.
var deltaSpec = sample.Spec{Seed: 20251201, BaseLayerSize: 2 << 10, LayerSize: 1 << 10, Variant: 7, Version: "2025.11.0"}

// keyPassword protects the throwaway private keys while Generate runs;
// they are deleted after it and never committed.
const keyPassword = "golden"

// Options say where to write a generation.
type Options struct {
	// Out is the new generation's directory (testdata/bundles/vN). It must
	// not exist: an old generation is never rewritten.
	Out string
	// Commit is the stella commit recorded in golden.json; empty asks git.
	Commit string
}

// Generate makes a new generation of golden bundles in opts.Out: a full
// bundle packed as .tar.zst (seekable) and .tar, a delta of it (.tar.gz),
// the same release signed with a certificate (a directory), and the full
// bundle split into signed volumes; the far side's signed inventory after
// it imported the full bundle, and the signed catalog of a bundle
// repository holding the full bundle and its delta; with the public keys
// and the root CA beside them, and golden.json.
func Generate(ctx context.Context, opts Options) (*Generation, error) {
	if opts.Out == "" {
		return nil, errors.New("-out is required")
	}
	if _, err := os.Lstat(opts.Out); err == nil {
		return nil, fmt.Errorf("%s exists: old generations are kept as they are; make a new one (the next vN)", opts.Out)
	}
	if opts.Commit == "" {
		opts.Commit = gitCommit()
	}
	work, err := os.MkdirTemp("", "stella-golden-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	stage := filepath.Join(work, "out")
	for _, d := range []string{stage, filepath.Join(stage, "keys"), filepath.Join(stage, "split")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	g := &generator{ctx: ctx, work: work, out: stage, producer: "golden " + short(opts.Commit)}
	if err := g.start(); err != nil {
		return nil, err
	}
	defer g.srv.Close()
	gen, err := g.run()
	if err != nil {
		return nil, err
	}
	gen.Commit, gen.Made, gen.Go = opts.Commit, time.Now().UTC().Truncate(time.Second), runtime.Version()
	data, err := json.MarshalIndent(gen, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stage, File), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return nil, err
	}
	// Whole or not at all: the generation appears in one rename.
	if err := os.Rename(stage, opts.Out); err != nil {
		return nil, err
	}
	return gen, nil
}

type generator struct {
	ctx       context.Context
	work, out string
	srv       *httptest.Server
	host      string
	client    *remote.Client
	// producer is manifest.json's producer.version: the commit that made it.
	producer string
}

// start runs the source registry: go-containerregistry's, in process.
func (g *generator) start() error {
	g.srv = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	g.host = strings.TrimPrefix(g.srv.URL, "http://")
	cfg := filepath.Join(g.work, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		return err
	}
	var err error
	g.client, err = remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
	return err
}

func pass() ([]byte, error) { return []byte(keyPassword), nil }

func (g *generator) run() (*Generation, error) {
	gen := &Generation{SchemaVersion: bundle.SchemaVersion, Now: Created.Add(time.Hour)}
	rel, err := g.push(spec)
	if err != nil {
		return nil, err
	}
	signing, err := g.keygen("signing")
	if err != nil {
		return nil, err
	}
	// The full bundle, in pack's two forms and split onto media.
	full, err := g.create(rel, "full", "", Created)
	if err != nil {
		return nil, err
	}
	if err := g.sign(full, signing, nil); err != nil {
		return nil, err
	}
	for _, form := range []string{"full.tar.zst", "full.tar"} {
		if _, err := mirror.Pack(g.ctx, mirror.PackOptions{Dir: full, Output: filepath.Join(g.out, form)}); err != nil {
			return nil, err
		}
	}
	b, err := describe(full, rel, "full", "a full bundle, key-signed, packed as .tar.zst (seekable) and .tar", "keys/signing.pub", "full.tar.zst", "full.tar")
	if err != nil {
		return nil, err
	}
	gen.Bundles = append(gen.Bundles, *b)

	split := filepath.Join(g.out, "split", "full.tar.zst")
	if _, err := mirror.Pack(g.ctx, mirror.PackOptions{Dir: full, Output: split, Split: 16 << 10, Key: signing, Password: pass}); err != nil {
		return nil, err
	}
	b, err = describe(full, rel, "split", "the full bundle split into 16 KiB volumes, the volume list signed with the same key", "keys/signing.pub", "split/full.tar.zst.volumes.json")
	if err != nil {
		return nil, err
	}
	b.VolumeKey = "keys/signing.pub"
	gen.Bundles = append(gen.Bundles, *b)

	// The next release as a delta of the full bundle.
	relB, err := g.push(deltaSpec)
	if err != nil {
		return nil, err
	}
	delta, err := g.create(relB, "delta", full, Created.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	if err := g.sign(delta, signing, nil); err != nil {
		return nil, err
	}
	if _, err := mirror.Pack(g.ctx, mirror.PackOptions{Dir: delta, Output: filepath.Join(g.out, "delta.tar.gz")}); err != nil {
		return nil, err
	}
	b, err = describe(delta, relB, "delta", "the next release (2025.11.0) as a delta of full, key-signed, packed as .tar.gz", "keys/signing.pub", "delta.tar.gz")
	if err != nil {
		return nil, err
	}
	b.Base = "full"
	gen.Bundles = append(gen.Bundles, *b)

	// The release signed with a certificate, as a directory.
	certKey, err := g.keygen("cert-signing")
	if err != nil {
		return nil, err
	}
	pki, err := newPKI(filepath.Join(g.out, "keys"), filepath.Join(g.work, "leaf.pem"), certKey)
	if err != nil {
		return nil, err
	}
	cert, err := g.create(rel, "cert", "", Created)
	if err != nil {
		return nil, err
	}
	if err := g.sign(cert, certKey, pki); err != nil {
		return nil, err
	}
	if err := copyTree(cert, filepath.Join(g.out, "cert")); err != nil {
		return nil, err
	}
	b, err = describe(cert, rel, "cert", "the full release as a directory, signed with a key certified by the test root CA (root and leaf valid to 2125)", "", "cert")
	if err != nil {
		return nil, err
	}
	b.TrustRoot = "keys/root.pem"
	gen.Bundles = append(gen.Bundles, *b)

	// The far side imports the full bundle and signs its inventory.
	if gen.Inventory, err = g.inventory(signing); err != nil {
		return nil, err
	}
	// A bundle repository holding full and its delta, and its catalog.
	if gen.Catalog, err = g.catalog(signing); err != nil {
		return nil, err
	}
	return gen, nil
}

// catalog imports full.tar, then delta.tar.gz, into a registry in process,
// and writes the bundle repository's signed catalog as catalog --output
// does (catalog.json, catalog.dsse).
func (g *generator) catalog(key string) (*Catalog, error) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	pub := filepath.Join(g.out, "keys", "signing.pub")
	now := Created.Add(25 * time.Hour) // the delta's day
	for _, form := range []string{"full.tar", "delta.tar.gz"} {
		if _, err := mirror.Import(g.ctx, mirror.ImportOptions{Source: filepath.Join(g.out, form), Registry: host,
			Trust: mirror.TrustOptions{Keys: []string{pub}, Now: now}, Now: now, Client: g.client}); err != nil {
			return nil, fmt.Errorf("import %s: %w", form, err)
		}
	}
	repo := host + "/" + bundle.DefaultBundleRepository
	if _, err := mirror.Catalog(g.ctx, mirror.CatalogOptions{Repository: repo, Key: key, Password: pass, Output: g.out, Now: now, Client: g.client}); err != nil {
		return nil, err
	}
	return &Catalog{Path: mirror.CatalogFileName, Envelope: mirror.CatalogEnvelopeName, Key: "keys/signing.pub", Repository: repo, Bundles: []string{"full", "delta"}}, nil
}

// inventory imports full.tar into a far-side registry, in process, and
// writes its signed inventory.
func (g *generator) inventory(key string) (*Inventory, error) {
	far := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer far.Close()
	host := strings.TrimPrefix(far.URL, "http://")
	pub := filepath.Join(g.out, "keys", "signing.pub")
	now := Created.Add(time.Hour)
	if _, err := mirror.Import(g.ctx, mirror.ImportOptions{Source: filepath.Join(g.out, "full.tar"), Registry: host,
		Trust: mirror.TrustOptions{Keys: []string{pub}, Now: now}, Now: now, Client: g.client}); err != nil {
		return nil, fmt.Errorf("import full.tar: %w", err)
	}
	if _, err := mirror.Inventory(g.ctx, mirror.InventoryOptions{Registry: host, Output: filepath.Join(g.out, "inventory.json"),
		Key: key, Password: pass, Trust: mirror.TrustOptions{Keys: []string{pub}, Now: now}, Now: now, Client: g.client}); err != nil {
		return nil, err
	}
	return &Inventory{Path: "inventory.json", Key: "keys/signing.pub", Base: "full", Next: deltaSpec}, nil
}

func (g *generator) push(s sample.Spec) (*sample.Release, error) {
	s.Registry = g.host
	return sample.Push(g.ctx, s, func(repo string) (sample.Pusher, error) {
		return g.client.Repository(g.host + "/" + repo)
	})
}

// keygen makes a key pair in the work directory and copies its public key
// into keys/; it returns the private key's path.
func (g *generator) keygen(name string) (string, error) {
	res, err := mirror.Keygen(context.Background(), mirror.KeygenOptions{OutputPrefix: filepath.Join(g.work, name), Password: pass})
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(res.PublicKey)
	if err != nil {
		return "", err
	}
	return res.PrivateKey, os.WriteFile(filepath.Join(g.out, "keys", name+".pub"), data, 0o644)
}

func (g *generator) create(rel *sample.Release, name, base string, created time.Time) (string, error) {
	files := filepath.Join(g.work, name+"-release")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return "", err
	}
	releaseFile, advisories, err := rel.WriteFiles(files)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(g.work, name)
	opts := mirror.CreateOptions{
		ReleaseFile: releaseFile, AdvisoriesDir: advisories, Output: dir,
		Created: created, ValidFor: validFor, Client: g.client,
		Producer: bundle.Producer{Name: "stella mirror", Version: g.producer},
	}
	if base != "" {
		pub := filepath.Join(g.out, "keys", "signing.pub")
		opts.Base, opts.BaseTrust = base, mirror.TrustOptions{Keys: []string{pub}, Now: created}
	}
	if _, err := mirror.Create(g.ctx, opts); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	return dir, nil
}

func (g *generator) sign(dir, key string, pki *pkiFiles) error {
	opts := mirror.SignOptions{
		Manifest: filepath.Join(dir, "manifest.json"), Output: filepath.Join(dir, "manifest.dsse"),
		Key: key, Password: pass, Created: Created,
	}
	if pki != nil {
		opts.Certificate, opts.CertificateChain = pki.leaf, pki.root
	}
	_, err := mirror.Sign(g.ctx, opts)
	return err
}

// describe reads what a bundle directory holds into its Bundle.
func describe(dir string, rel *sample.Release, name, what, key string, forms ...string) (*Bundle, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return nil, err
	}
	root, err := rootOf(dir, m.Release.Version)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Name: name, Describe: what, Forms: forms, Key: key, Root: root,
		BundleID: m.BundleID, Version: m.Release.Version, Generation: m.MirrorGeneration}
	for _, img := range m.Images {
		b.Images = append(b.Images, Image{Repository: img.Repository, Digest: img.Digest, Tags: img.Tags})
	}
	// A layer of the first image that changed in this release, so that a
	// delta's blob is one the delta itself carries.
	img := rel.Images[0]
	for dg, size := range img.Blobs {
		if img.Manifests[dg] {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", dg.Encoded())); err != nil {
			continue
		}
		if b.Blob.Digest == "" || dg < b.Blob.Digest {
			b.Blob = Blob{Repository: img.Repository, Digest: dg, Size: size}
		}
	}
	if b.Blob.Digest == "" {
		return nil, fmt.Errorf("%s: no blob of %s in the bundle", name, img.Repository)
	}
	return b, nil
}

// rootOf reads the root's digest from index.json, where the release
// version tags it.
func rootOf(dir, version string) (digest.Digest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", err
	}
	var idx struct {
		Manifests []struct {
			Digest      digest.Digest     `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return "", err
	}
	for _, d := range idx.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == version {
			return d.Digest, nil
		}
	}
	return "", fmt.Errorf("%s: index.json does not name %s", dir, version)
}

// copyTree copies a bundle directory, modes kept.
func copyTree(from, to string) error {
	return filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

// gitCommit is HEAD, with +dirty when the tree has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+dirty"
	}
	return commit
}

// short is a commit's first twelve characters (and +dirty).
func short(commit string) string {
	hash, dirty, _ := strings.Cut(commit, "+")
	if len(hash) > 12 {
		hash = hash[:12]
	}
	if dirty != "" {
		return hash + "+" + dirty
	}
	return hash
}

// loadPublic reads the public key of a private key file.
func loadPublic(ctx context.Context, priv string) (any, error) {
	s, err := keys.LoadSigner(ctx, priv, pass)
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}
