// Package golden makes and reads the golden bundles under testdata/bundles:
// one directory per generation of the format (v1, v2, …), each holding
// bundles an earlier stella made, signed, with the keys and trust root that
// verify them and golden.json, what each bundle must give when it is read
// (root, images, tags). The compatibility test reads every generation with
// this stella; Generate makes a new one and never overwrites an old one,
// since old generations are what the far side still holds.
package golden

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
)

// File is the name of a generation's description.
const File = "golden.json"

// Generation is a generation's golden.json.
type Generation struct {
	// Commit is the stella commit (git HEAD) that made the bundles, with
	// "+dirty" when the tree had uncommitted changes.
	Commit string `json:"commit"`
	// Made is when Generate ran; Go the toolchain it ran with.
	Made time.Time `json:"made"`
	Go   string    `json:"go"`
	// SchemaVersion is manifest.json's schemaVersion in these bundles.
	SchemaVersion int `json:"schemaVersion"`
	// Now is a time inside every bundle's and certificate's validity: the
	// clock the bundles are read at.
	Now time.Time `json:"now"`
	// Bundles are the bundles, bases before the deltas built on them.
	Bundles []Bundle `json:"bundles"`
	// Inventory is the far side's signed inventory after it imported a
	// bundle: what the connected side makes the next delta from.
	Inventory *Inventory `json:"inventory,omitempty"`
	// Catalog is the signed catalog of a bundle repository that holds
	// some of the bundles (v1's was added later, made by v1's own stella:
	// see testdata/README.md).
	Catalog *Catalog `json:"catalog,omitempty"`
}

// Catalog is a bundle repository's signed catalog as catalog --output
// writes it for media: catalog.json and its envelope, catalog.dsse. It was
// signed for Repository (host/repository; the host, a port of 127.0.0.1,
// is another registry's when it is read, which a reader only warns of),
// holding the bundles named in Bundles, imported in that order.
type Catalog struct {
	Path       string   `json:"path"`
	Envelope   string   `json:"envelope"`
	Key        string   `json:"key"`
	Repository string   `json:"repository"`
	Bundles    []string `json:"bundles"`
}

// Inventory is a signed inventory (inventory, then its signature beside it
// as .dsse) of a registry that imported the bundle Base.
type Inventory struct {
	Path string `json:"path"`
	Key  string `json:"key"`
	Base string `json:"base"`
	// Next is the release to make a delta of against it: the sample
	// release pushed with this spec gives the same digests every time.
	Next sample.Spec `json:"next"`
}

// Bundle is one bundle of a generation, in one or more forms.
type Bundle struct {
	// Name identifies the bundle in the generation: full, delta, cert, split.
	Name string `json:"name"`
	// Describe says what it is, for the README and failure messages.
	Describe string `json:"describe"`
	// Forms are the same bundle's paths, relative to the generation's
	// directory: archives (.tar, .tar.gz, .tar.zst), a directory, or a
	// volume list (….volumes.json).
	Forms []string `json:"forms"`
	// Key is the public key that verifies its signature, or TrustRoot the
	// root CA its carried certificate chains to; relative paths.
	Key       string `json:"key,omitempty"`
	TrustRoot string `json:"trustRoot,omitempty"`
	// VolumeKey verifies a volume list's signature (….volumes.dsse).
	VolumeKey string `json:"volumeKey,omitempty"`
	// Base names the bundle of the generation this one is a delta of: it
	// imports over that one.
	Base string `json:"base,omitempty"`

	Root       digest.Digest `json:"root"`
	BundleID   string        `json:"bundleId"`
	Version    string        `json:"version"`
	Generation int64         `json:"mirrorGeneration"`
	Images     []Image       `json:"images"`
	// Blob is a layer the bundle carries, to pull from serve.
	Blob Blob `json:"blob"`
}

// Image is an image of a bundle, as the far side's registry must hold it.
type Image struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Tags       []string      `json:"tags"`
}

// Blob is a blob in a repository.
type Blob struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Size       int64         `json:"size"`
}

// Generations returns the generation directories under dir
// (testdata/bundles), oldest first: v1, v2, … v10.
func Generations(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n, ok := number(e.Name()); ok && e.IsDir() && n > 0 {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := number(filepath.Base(out[i]))
		b, _ := number(filepath.Base(out[j]))
		return a < b
	})
	return out, nil
}

// number parses "vN".
func number(name string) (int, bool) {
	var n int
	if !strings.HasPrefix(name, "v") {
		return 0, false
	}
	if _, err := fmt.Sscanf(name, "v%d", &n); err != nil || fmt.Sprintf("v%d", n) != name {
		return 0, false
	}
	return n, true
}

// Load reads a generation's golden.json.
func Load(dir string) (*Generation, error) {
	data, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		return nil, err
	}
	var g Generation
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, File), err)
	}
	return &g, nil
}

// Find returns the bundle of g named name.
func (g *Generation) Find(name string) *Bundle {
	for i := range g.Bundles {
		if g.Bundles[i].Name == name {
			return &g.Bundles[i]
		}
	}
	return nil
}
