package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/serve"
)

// memStore is a BlobStore in memory.
type memStore map[digest.Digest][]byte

func (m memStore) OpenBlob(_ context.Context, desc ocispec.Descriptor) (serve.Blob, error) {
	data, ok := m[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("%s: %w", desc.Digest, errdef.ErrNotFound)
	}
	return serve.NopCloser(bytes.NewReader(data)), nil
}

// fixture is a small registry: an index of two images and two referrers in
// "library/app" (30 tags), one of the images alone in "other/repo".
type fixture struct {
	content                 *serve.Content
	store                   memStore
	config, layerA, layerB  ocispec.Descriptor
	image1, image2, index   ocispec.Descriptor
	sbom, signature         ocispec.Descriptor
	docs                    map[digest.Digest][]byte
	tags                    []string
	sbomType, signatureType string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: memStore{}, docs: map[digest.Digest][]byte{}, sbomType: "application/vnd.example.sbom", signatureType: "application/vnd.example.sig.config"}
	blob := func(mt string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		f.store[d.Digest] = data
		return d
	}
	random := func(n int, seed uint64) []byte {
		r := rand.NewChaCha8([32]byte{byte(seed)})
		b := make([]byte, n)
		r.Read(b)
		return b
	}
	f.config = blob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	f.layerA = blob(ocispec.MediaTypeImageLayerGzip, random(100<<10, 1))
	f.layerB = blob(ocispec.MediaTypeImageLayerGzip, random(10<<10, 2))
	doc := func(mt string, v any) ocispec.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		f.docs[d.Digest] = data
		return d
	}
	v2 := specs.Versioned{SchemaVersion: 2}
	f.image1 = doc(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: f.config, Layers: []ocispec.Descriptor{f.layerA}})
	f.image2 = doc(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: f.config, Layers: []ocispec.Descriptor{f.layerB}})
	f.index = doc(ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{f.image1, f.image2}})
	empty := blob("application/vnd.oci.empty.v1+json", []byte("{}"))
	sbomLayer := blob("application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
	subject := ocispec.Descriptor{MediaType: f.image1.MediaType, Digest: f.image1.Digest, Size: f.image1.Size}
	f.sbom = doc(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: f.sbomType,
		Config: empty, Layers: []ocispec.Descriptor{sbomLayer}, Subject: &subject, Annotations: map[string]string{"org.example.format": "spdx"}})
	sigConfig := blob(f.signatureType, []byte(`{"sig":true}`))
	f.signature = doc(ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest,
		Config: sigConfig, Layers: []ocispec.Descriptor{}, Subject: &subject})

	c := serve.NewContent(f.store)
	for dg, data := range f.docs {
		mt := map[digest.Digest]string{f.index.Digest: ocispec.MediaTypeImageIndex}[dg]
		if mt == "" {
			mt = ocispec.MediaTypeImageManifest
		}
		if err := c.AddManifest(ocispec.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(data))}, data); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Include("library/app", f.index.Digest))
	for i := range 30 {
		tag := fmt.Sprintf("v%02d", i)
		f.tags = append(f.tags, tag)
		must(c.Tag("library/app", tag, f.index.Digest))
	}
	must(c.Include("library/app", f.sbom.Digest))
	must(c.Include("library/app", f.signature.Digest))
	must(c.Include("other/repo", f.image2.Digest))
	must(c.Tag("other/repo", "v1", f.image2.Digest))
	f.content = c
	return f
}

func (f *fixture) server(t *testing.T, opts serve.Options) *httptest.Server {
	srv := httptest.NewServer(serve.NewHandler(f.content, opts))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestPullManifestsAndBlobs(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, serve.Options{})
	tests := []struct {
		name, method, path string
		wantType           string
		want               []byte
		digest             digest.Digest
	}{
		{"manifest by tag", "GET", "/v2/library/app/manifests/v07", ocispec.MediaTypeImageIndex, f.docs[f.index.Digest], f.index.Digest},
		{"manifest by digest", "GET", "/v2/library/app/manifests/" + f.image1.Digest.String(), ocispec.MediaTypeImageManifest, f.docs[f.image1.Digest], f.image1.Digest},
		{"manifest head", "HEAD", "/v2/library/app/manifests/v00", ocispec.MediaTypeImageIndex, nil, f.index.Digest},
		{"layer", "GET", "/v2/library/app/blobs/" + f.layerA.Digest.String(), "application/octet-stream", f.store[f.layerA.Digest], f.layerA.Digest},
		{"layer head", "HEAD", "/v2/library/app/blobs/" + f.layerA.Digest.String(), "application/octet-stream", nil, f.layerA.Digest},
		{"manifest as a blob", "GET", "/v2/other/repo/blobs/" + f.image2.Digest.String(), "application/octet-stream", f.docs[f.image2.Digest], f.image2.Digest},
		{"referrer by digest", "GET", "/v2/library/app/manifests/" + f.sbom.Digest.String(), ocispec.MediaTypeImageManifest, f.docs[f.sbom.Digest], f.sbom.Digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", resp.Status, body)
			}
			size := len(tt.want)
			if tt.method == "HEAD" {
				size = len(f.docs[tt.digest]) + len(f.store[tt.digest])
			}
			if resp.Header.Get("Content-Type") != tt.wantType || resp.Header.Get("Docker-Content-Digest") != tt.digest.String() ||
				resp.Header.Get("Content-Length") != fmt.Sprint(size) || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
				t.Errorf("headers %v", resp.Header)
			}
			if !bytes.Equal(body, tt.want) {
				t.Errorf("body: %d bytes, want %d", len(body), len(tt.want))
			}
		})
	}
	resp, body := do(t, "GET", srv.URL+"/v2/", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("/v2/: %s %s", resp.Status, body)
	}
}

func TestBlobRanges(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, serve.Options{})
	url := srv.URL + "/v2/library/app/blobs/" + f.layerA.Digest.String()
	data := f.store[f.layerA.Digest]
	n := len(data)
	tests := []struct {
		rng, ifNoneMatch string
		status           int
		want             []byte
		contentRange     string
	}{
		{rng: "bytes=0-9", status: 206, want: data[:10], contentRange: fmt.Sprintf("bytes 0-9/%d", n)},
		{rng: "bytes=500-1499", status: 206, want: data[500:1500], contentRange: fmt.Sprintf("bytes 500-1499/%d", n)},
		{rng: "bytes=1000-", status: 206, want: data[1000:], contentRange: fmt.Sprintf("bytes 1000-%d/%d", n-1, n)},
		{rng: "bytes=-500", status: 206, want: data[n-500:], contentRange: fmt.Sprintf("bytes %d-%d/%d", n-500, n-1, n)},
		{rng: fmt.Sprintf("bytes=%d-", n), status: 416, contentRange: fmt.Sprintf("bytes */%d", n)},
		{rng: "bytes=500-0", status: 416},
		{rng: "bytes=0-99999999999", status: 206, want: data, contentRange: fmt.Sprintf("bytes 0-%d/%d", n-1, n)},
		{ifNoneMatch: `"` + f.layerA.Digest.String() + `"`, status: 304},
	}
	for _, tt := range tests {
		t.Run(tt.rng+tt.ifNoneMatch, func(t *testing.T) {
			h := map[string]string{}
			if tt.rng != "" {
				h["Range"] = tt.rng
			}
			if tt.ifNoneMatch != "" {
				h["If-None-Match"] = tt.ifNoneMatch
			}
			resp, body := do(t, "GET", url, h)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %s, want %d", resp.Status, tt.status)
			}
			if tt.contentRange != "" && resp.Header.Get("Content-Range") != tt.contentRange {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), tt.contentRange)
			}
			if tt.want != nil && !bytes.Equal(body, tt.want) {
				t.Errorf("body: %d bytes, want %d", len(body), len(tt.want))
			}
		})
	}
	// Two ranges come back as multipart/byteranges.
	resp, _ := do(t, "GET", url, map[string]string{"Range": "bytes=0-1,10-11"})
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Errorf("two ranges: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// TestTagListPagination follows the Link header page by page, and checks
// n=0, last, and an n past the page size.
func TestTagListPagination(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, serve.Options{MaxPageSize: 7})
	var got []string
	next := "/v2/library/app/tags/list?n=4"
	for pages := 0; next != ""; pages++ {
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		resp, body := do(t, "GET", srv.URL+next, nil)
		var tl tagList
		if resp.StatusCode != 200 || json.Unmarshal(body, &tl) != nil || tl.Name != "library/app" || len(tl.Tags) > 4 {
			t.Fatalf("%s: %s %s", next, resp.Status, body)
		}
		got = append(got, tl.Tags...)
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if !slices.Equal(got, f.tags) {
		t.Errorf("paged tags %v, want %v", got, f.tags)
	}
	check := func(query string, want []string, wantLink bool) {
		t.Helper()
		resp, body := do(t, "GET", srv.URL+"/v2/library/app/tags/list"+query, nil)
		var tl tagList
		if resp.StatusCode != 200 || json.Unmarshal(body, &tl) != nil {
			t.Fatalf("%s: %s %s", query, resp.Status, body)
		}
		if !slices.Equal(tl.Tags, want) || tl.Tags == nil || (resp.Header.Get("Link") != "") != wantLink {
			t.Errorf("%s: tags %v link %q, want %v (link %v)", query, tl.Tags, resp.Header.Get("Link"), want, wantLink)
		}
	}
	check("?n=0", []string{}, false)
	check("?last=v26", []string{"v27", "v28", "v29"}, false)
	check("?n=2&last=v10", []string{"v11", "v12"}, true)
	check("?n=99999999999999999999999", f.tags[:7], true)
	check("", f.tags[:7], true)
	check("?last=zzz", []string{}, false)
	check("?n=3&last=v28", []string{"v29"}, false)
}

func TestCatalog(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, serve.Options{})
	resp, body := do(t, "GET", srv.URL+"/v2/_catalog?n=1", nil)
	if resp.StatusCode != 200 || string(body) != `{"repositories":["library/app"]}` ||
		resp.Header.Get("Link") != `</v2/_catalog?last=library%2Fapp&n=1>; rel="next"` {
		t.Fatalf("%s %s %v", resp.Status, body, resp.Header)
	}
	resp, body = do(t, "GET", srv.URL+"/v2/_catalog?last=library%2Fapp", nil)
	if resp.StatusCode != 200 || string(body) != `{"repositories":["other/repo"]}` {
		t.Fatalf("%s %s", resp.Status, body)
	}
}

func TestReferrers(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, serve.Options{})
	list := func(repo string, subject digest.Digest, query string) (ocispec.Index, *http.Response) {
		t.Helper()
		resp, body := do(t, "GET", srv.URL+"/v2/"+repo+"/referrers/"+subject.String()+query, nil)
		var idx ocispec.Index
		if resp.StatusCode != 200 || json.Unmarshal(body, &idx) != nil || resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex ||
			idx.MediaType != ocispec.MediaTypeImageIndex || idx.SchemaVersion != 2 || !strings.Contains(string(body), `"manifests":[`) {
			t.Fatalf("%s %s", resp.Status, body)
		}
		return idx, resp
	}
	idx, resp := list("library/app", f.image1.Digest, "")
	if len(idx.Manifests) != 2 || resp.Header.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers %+v", idx.Manifests)
	}
	byType := map[string]ocispec.Descriptor{}
	for _, d := range idx.Manifests {
		byType[d.ArtifactType] = d
	}
	if d := byType[f.sbomType]; d.Digest != f.sbom.Digest || d.Size != f.sbom.Size || d.MediaType != ocispec.MediaTypeImageManifest || d.Annotations["org.example.format"] != "spdx" {
		t.Errorf("SBOM descriptor %+v", d)
	}
	// Without an artifactType, a manifest is listed with its config's type.
	if d := byType[f.signatureType]; d.Digest != f.signature.Digest {
		t.Errorf("signature descriptor %+v", d)
	}
	idx, resp = list("library/app", f.image1.Digest, "?artifactType="+f.sbomType)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != f.sbom.Digest || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered: %+v %v", idx.Manifests, resp.Header)
	}
	if idx, _ = list("library/app", f.image1.Digest, "?artifactType=application/none"); len(idx.Manifests) != 0 {
		t.Errorf("filtered on nothing: %+v", idx.Manifests)
	}
	if idx, _ = list("library/app", f.image2.Digest, ""); len(idx.Manifests) != 0 {
		t.Errorf("unknown subject: %+v", idx.Manifests)
	}
	// Referrers belong to their repository.
	if idx, _ = list("other/repo", f.image1.Digest, ""); len(idx.Manifests) != 0 {
		t.Errorf("other repository: %+v", idx.Manifests)
	}
}
