package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// doctor runs Doctor against host with client.
func doctor(t *testing.T, host string, client *remote.Client) (*mirror.DoctorResult, error) {
	t.Helper()
	res, err := mirror.Doctor(context.Background(), mirror.DoctorOptions{Registry: host, Client: client})
	if res == nil && err == nil {
		t.Fatal("Doctor returned neither a result nor an error")
	}
	return res, err
}

// wantChecks fails unless each named check has its status.
func wantChecks(t *testing.T, res *mirror.DoctorResult, want map[string]mirror.CheckStatus) {
	t.Helper()
	for name, status := range want {
		c := res.Check(name)
		switch {
		case c == nil && status != "":
			t.Errorf("%s: not run, want %s", name, status)
		case c != nil && status == "":
			t.Errorf("%s: ran (%s: %s), want not run", name, c.Status, c.Detail)
		case c != nil && c.Status != status:
			t.Errorf("%s: %s (%s), want %s", name, c.Status, c.Detail, status)
		}
	}
}

// TestDoctorDistribution: the CNCF distribution registry has no referrers
// API, so import and push will use the sha256-<hex> fallback tag; it
// mounts blobs, takes 4 MiB manifests, and allows deletes, so the doctor
// leaves no tag behind.
func TestDoctorDistribution(t *testing.T) {
	host := testutil.Distribution(t)
	res, err := doctor(t, host, testutil.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	wantChecks(t, res, map[string]mirror.CheckStatus{
		mirror.CheckReachable: mirror.CheckPass, mirror.CheckTLS: mirror.CheckSkip, mirror.CheckAuth: mirror.CheckPass,
		mirror.CheckPush: mirror.CheckPass, mirror.CheckChunked: mirror.CheckPass, mirror.CheckArtifactType: mirror.CheckPass,
		mirror.CheckReferrersAPI: mirror.CheckWarn, mirror.CheckOCISubject: mirror.CheckInfo,
		mirror.CheckFallbackTag: mirror.CheckPass, mirror.CheckManifestSize: mirror.CheckPass,
		mirror.CheckBlobMount: mirror.CheckPass, mirror.CheckCleanup: mirror.CheckPass,
	})
	if !res.Usable || res.Mode == nil || res.Mode.Referrers != mirror.ReferrersTagIndex || !res.Mode.Mounts || res.Mode.Uploads != mirror.UploadsChunked {
		t.Errorf("usable %v, mode %+v; want usable, fallback tag, mounts, chunked uploads", res.Usable, res.Mode)
	}
	if res.MaxManifestSize != bundle.MaxManifestSize {
		t.Errorf("max manifest size %d, want %d", res.MaxManifestSize, bundle.MaxManifestSize)
	}
	for repo, tags := range testutil.Tags(t, host) {
		if len(tags) > 0 {
			t.Errorf("doctor left tags in %s: %v", repo, tags)
		}
	}
}

// withOCISubject makes the in-process registry answer a manifest push that
// has a subject with the OCI-Subject header, as OCI 1.1 registries do.
func withOCISubject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			data, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(data))
			var m struct {
				Subject *struct{ Digest string } `json:"subject"`
			}
			if json.Unmarshal(data, &m) == nil && m.Subject != nil {
				w.Header().Set("OCI-Subject", m.Subject.Digest)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers requests that match with status, and passes the others.
func refuse(match func(*http.Request) bool, status int, code string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, `{"errors":[{"code":"`+code+`","message":"refused by the test"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func manifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

// TestDoctorReferrersAPI runs the doctor against the in-process registry,
// which serves the referrers API, with and without OCI-Subject, and against
// registries that refuse parts of what a bundle needs.
func TestDoctorReferrersAPI(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		host      func(testing.TB) string
		want      map[string]mirror.CheckStatus
		mode      mirror.ReferrersMode
		unusable  bool
		sizeRange [2]int64
	}{
		{
			name: "referrers API, no OCI-Subject, no mounts", host: testutil.Registry,
			want: map[string]mirror.CheckStatus{
				mirror.CheckReferrersAPI: mirror.CheckPass, mirror.CheckOCISubject: mirror.CheckWarn,
				mirror.CheckFallbackTag: mirror.CheckPass, mirror.CheckManifestSize: mirror.CheckPass,
				mirror.CheckBlobMount: mirror.CheckWarn, mirror.CheckCleanup: mirror.CheckPass,
			},
			mode: mirror.ReferrersAPI,
		},
		{
			name: "referrers API and OCI-Subject",
			host: func(t testing.TB) string { return testutil.RegistryWrapped(t, withOCISubject) },
			want: map[string]mirror.CheckStatus{mirror.CheckReferrersAPI: mirror.CheckPass, mirror.CheckOCISubject: mirror.CheckPass},
			mode: mirror.ReferrersAPI,
		},
		{
			// OCI-Subject is sent only by a registry that serves the
			// referrers API: one answered 404 is hidden by a proxy in
			// front of it, and a bundle signed through the API reads
			// there as unsigned, passed over by the rollback check.
			name: "OCI-Subject sent, referrers API answered 404",
			host: func(t testing.TB) string {
				return testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
					return withOCISubject(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.Contains(r.URL.Path, "/referrers/") {
							http.NotFound(w, r)
							return
						}
						next.ServeHTTP(w, r)
					}))
				})
			},
			want:     map[string]mirror.CheckStatus{mirror.CheckReferrersAPI: mirror.CheckFail},
			unusable: true,
		},
		{
			name: "manifests over 1 MiB refused",
			host: func(t testing.TB) string {
				return testutil.RegistryWrapped(t, refuse(func(r *http.Request) bool { return manifestPut(r) && r.ContentLength > mib }, http.StatusRequestEntityTooLarge, "SIZE_INVALID"))
			},
			want:      map[string]mirror.CheckStatus{mirror.CheckManifestSize: mirror.CheckWarn},
			mode:      mirror.ReferrersAPI,
			sizeRange: [2]int64{mib - 64<<10, mib},
		},
		{
			name: "sha256-<hex> tags refused, not needed with the API",
			host: func(t testing.TB) string {
				return testutil.RegistryWrapped(t, refuse(func(r *http.Request) bool {
					return manifestPut(r) && strings.Contains(r.URL.Path, "/manifests/sha256-")
				}, http.StatusBadRequest, "TAG_INVALID"))
			},
			want: map[string]mirror.CheckStatus{mirror.CheckFallbackTag: mirror.CheckWarn},
			mode: mirror.ReferrersAPI,
		},
		{
			name: "artifact manifests refused",
			host: func(t testing.TB) string {
				return testutil.RegistryWrapped(t, refuse(func(r *http.Request) bool {
					return manifestPut(r) && r.ContentLength > 0 && strings.Contains(peek(r), `"artifactType"`)
				}, http.StatusBadRequest, "MANIFEST_INVALID"))
			},
			want: map[string]mirror.CheckStatus{
				mirror.CheckPush: mirror.CheckPass, mirror.CheckArtifactType: mirror.CheckFail,
				mirror.CheckReferrersAPI: "", mirror.CheckCleanup: mirror.CheckPass,
			},
			unusable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := doctor(t, tt.host(t), testutil.Client(t))
			if tt.unusable {
				if !errors.Is(err, errdef.ErrUnavailable) || res == nil || res.Usable {
					t.Fatalf("err %v, result %+v; want unusable and ErrUnavailable", err, res)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			wantChecks(t, res, tt.want)
			if tt.mode != "" && (res.Mode == nil || res.Mode.Referrers != tt.mode || res.Mode.Mounts) {
				t.Errorf("mode %+v, want %s without mounts", res.Mode, tt.mode)
			}
			if r := tt.sizeRange; r[1] != 0 && (res.MaxManifestSize <= r[0] || res.MaxManifestSize > r[1]) {
				t.Errorf("max manifest size %d, want in (%d, %d]", res.MaxManifestSize, r[0], r[1])
			}
		})
	}
}

// peek reads a request's body and puts it back.
func peek(r *http.Request) string {
	data, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(data))
	return string(data)
}

// TestDoctorAuth: a registry that requires basic auth, or bearer tokens
// from a token service, is diagnosed as unusable without credentials or with
// wrong ones, usable with the right ones from a docker config; the password
// is never in the report.
func TestDoctorAuth(t *testing.T) {
	t.Parallel()
	const password = "s3cret-doctor-pw"
	tokens := testutil.NewTokenService(t, t.TempDir(), "mirror", password)
	for scheme, host := range map[string]string{
		"Basic":  testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", password)}),
		"Bearer": testutil.DistributionWith(t, testutil.DistributionOptions{Token: tokens}),
	} {
		tests := []struct {
			name, config string
			want         string
		}{
			{"no credentials", "", "no credentials for " + host},
			{"wrong password", testutil.DockerConfig(t, host, "mirror", "wrong"), "refused the credentials"},
			{"credentials", testutil.DockerConfig(t, host, "mirror", password), ""},
			// An entry that cannot be read is no absence of
			// credentials: it said "there are no credentials for
			// HOST" (found by review).
			{"broken entry", brokenConfig(t, host), "could not be read: credentials for " + host + " in "},
		}
		for _, tt := range tests {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				opts := remote.Options{Retries: 1, ConfigFile: tt.config}
				client := testutil.ClientWith(t, opts)
				if tt.config != "" {
					opts.PlainHTTP = true
					var err error
					if client, err = remote.New(opts); err != nil {
						t.Fatal(err)
					}
				}
				res, err := doctor(t, host, client)
				report, _ := json.Marshal(res)
				if strings.Contains(string(report), password) || (err != nil && strings.Contains(err.Error(), password)) {
					t.Fatalf("the password is in the report: %s %v", report, err)
				}
				auth := res.Check(mirror.CheckAuth)
				if tt.want == "" {
					if err != nil || auth.Status != mirror.CheckPass || !strings.Contains(auth.Detail, scheme) {
						t.Fatalf("err %v, auth %+v", err, auth)
					}
					return
				}
				if !errors.Is(err, errdef.ErrUnavailable) || auth.Status != mirror.CheckFail || !strings.Contains(auth.Detail, tt.want) {
					t.Fatalf("err %v, auth %+v; want a failure saying %q", err, auth, tt.want)
				}
				if res.Check(mirror.CheckPush) != nil {
					t.Error("write checks ran after authentication failed")
				}
			})
		}
	}
	if tokens.Issued.Load() == 0 {
		t.Error("the token registry was diagnosed without a token")
	}
}

// brokenConfig writes a config.json whose entry for host has an auth
// field that is not base64, and returns its path.
func brokenConfig(t *testing.T, host string) string {
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(`{"auths":{"`+host+`":{"auth":"not base64!"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDoctorTLS: a registry behind a private CA verifies with --ca-file
// (its 24-hour certificate draws an expiry warning), fails without it, and
// the wrong scheme either way is named.
func TestDoctorTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewRootCA(t, "Registry CA")
	cert, key := ca.ServerCert(t, dir)
	caFile := testutil.WritePEM(t, dir, "ca.pem", ca.Cert)
	host := testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: cert, TLSKey: key})
	plain := testutil.Distribution(t)
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	tests := []struct {
		name   string
		host   string
		opts   remote.Options
		check  string
		status mirror.CheckStatus
		want   string
	}{
		{"private CA", host, remote.Options{CAFile: caFile}, mirror.CheckTLS, mirror.CheckWarn, `issued by "Registry CA", verified`},
		{"no CA", host, remote.Options{}, mirror.CheckTLS, mirror.CheckFail, "--ca-file"},
		{"plain HTTP to HTTPS", host, remote.Options{PlainHTTP: true}, mirror.CheckReachable, mirror.CheckFail, "drop --plain-http"},
		{"HTTPS to plain HTTP", plain, remote.Options{}, mirror.CheckTLS, mirror.CheckFail, "add --plain-http-host " + plain + ", or --plain-http"},
		// --plain-http-host: the host named is asked in plain HTTP, any
		// other in HTTPS, its certificate verified.
		{"plain HTTP host", plain, remote.Options{PlainHTTPHosts: []string{plain}}, mirror.CheckTLS, mirror.CheckSkip, "plain HTTP (--plain-http-host)"},
		{"plain HTTP host, another asked", host, remote.Options{CAFile: caFile, PlainHTTPHosts: []string{plain}}, mirror.CheckTLS, mirror.CheckWarn, `issued by "Registry CA", verified`},
		{"plain HTTP host, another asked, no CA", host, remote.Options{PlainHTTPHosts: []string{plain}}, mirror.CheckTLS, mirror.CheckFail, "--ca-file"},
		{"plain HTTP host to HTTPS", host, remote.Options{PlainHTTPHosts: []string{host}}, mirror.CheckReachable, mirror.CheckFail, "drop --plain-http (or this host from --plain-http-host)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.ConfigFile, tt.opts.Retries = cfg, -1
			client, err := remote.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := doctor(t, tt.host, client)
			c := res.Check(tt.check)
			if c == nil || c.Status != tt.status || !strings.Contains(c.Detail, tt.want) {
				t.Fatalf("%s: %+v (err %v); want %s with %q", tt.check, c, err, tt.status, tt.want)
			}
			if (tt.status == mirror.CheckFail) != errors.Is(err, errdef.ErrUnavailable) {
				t.Errorf("err %v", err)
			}
		})
	}
}

// TestDoctorUnreachable: nothing listens, so the doctor stops at the first
// check.
func TestDoctorUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	res, err := doctor(t, host, testutil.ClientWith(t, remote.Options{Retries: -1}))
	if !errors.Is(err, errdef.ErrUnavailable) || len(res.Checks) != 1 || res.Checks[0].Status != mirror.CheckFail {
		t.Fatalf("err %v, checks %+v", err, res.Checks)
	}
}

// TestRegistryWithoutDeletes: distribution as configured by default
// refuses deletes. The doctor says so (and that its probes stay behind),
// and an import, whose fallback referrers index is replaced as each
// referrer is added, still succeeds: the superseded index is left untagged
// for the registry's garbage collection rather than failing the import.
func TestRegistryWithoutDeletes(t *testing.T) {
	t.Parallel()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{NoDelete: true})
	res, err := doctor(t, host, testutil.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Check(mirror.CheckCleanup); c == nil || c.Status != mirror.CheckWarn || !strings.Contains(c.Detail, "405") {
		t.Errorf("cleanup: %+v", c)
	}
	s := newSignedSample(t, sample.Spec{}, 0)
	placed, err := mirror.Import(context.Background(), importOpts(t, s.pack(t, ".tar"), host, s.pub))
	if err != nil {
		t.Fatalf("import into a registry without deletes: %v", err)
	}
	if placed.ReferrersMode != mirror.ReferrersTagIndex {
		t.Errorf("referrers mode %q", placed.ReferrersMode)
	}
}

// TestDoctorRegistryDeletingNoTagByName: the CNCF registry v2.8 (Debian's
// docker-registry, the registry:2 image) answers DELETE of a tag with 400
// DIGEST_INVALID, but removes the tags of a manifest deleted by digest. The
// doctor's probe tag is then gone once its manifest is, and its cleanup
// passes; it warned that the tag was left, with "400 Bad Request".
func TestDoctorRegistryDeletingNoTagByName(t *testing.T) {
	tagDelete := func(r *http.Request) bool {
		_, ref, ok := strings.Cut(r.URL.Path, "/manifests/")
		return ok && r.Method == http.MethodDelete && !strings.HasPrefix(ref, "sha256:")
	}
	host := testutil.ProxyWrapped(t, testutil.Distribution(t), refuse(tagDelete, http.StatusBadRequest, "DIGEST_INVALID"))
	res, err := doctor(t, host, testutil.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Check(mirror.CheckCleanup); c == nil || c.Status != mirror.CheckPass {
		t.Errorf("cleanup: %+v, want a pass", c)
	}
	for repo, tags := range testutil.Tags(t, host) {
		if len(tags) > 0 {
			t.Errorf("doctor left tags in %s: %v", repo, tags)
		}
	}
}

// TestInterruptedDoctorCleansUp interrupts the doctor once it has written
// probe manifests and a tag (as Ctrl-C would): what it wrote is still
// deleted. It was left in the registry for good.
func TestInterruptedDoctorCleansUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var written []string // repo/manifests/digest of every probe manifest
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !manifestPut(r) {
				next.ServeHTTP(w, r)
				return
			}
			body := peek(r)
			mu.Lock()
			path, _, _ := strings.Cut(r.URL.Path, "/manifests/")
			written = append(written, path+"/manifests/"+digest.FromString(body).String())
			mu.Unlock()
			if strings.Contains(r.URL.Path, "/manifests/sha256-") {
				cancel() // interrupted once the fallback tag is written
			}
			next.ServeHTTP(w, r)
		})
	})
	_, err := mirror.Doctor(ctx, mirror.DoctorOptions{Registry: host, Client: testutil.Client(t)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the interruption", err)
	}
	if len(written) < 2 {
		t.Fatalf("interrupted after %d manifest writes, want the probe and its artifact", len(written))
	}
	for repo, tags := range testutil.Tags(t, host) {
		if len(tags) > 0 {
			t.Errorf("the interrupted doctor left tags in %s: %v", repo, tags)
		}
	}
	for _, m := range written {
		resp, err := http.Head("http://" + host + m)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the interrupted doctor left %s (HEAD: %d)", m, resp.StatusCode)
		}
	}
}

// TestDoctorAuthLoginHint: the auth check of a registry there are no
// credentials for says which login saves them, as a command that runs as
// written: login needs -u and --password-stdin, and the flags the doctor
// was given that decide where login talks to and where it writes
// (--plain-http, --registry-config, the TLS files). It said `stella mirror
// login HOST`, which login refuses (no -u), and which, for a registry
// without TLS or a --registry-config of the run, failed or saved the
// credentials where the next run does not read them.
func TestDoctorAuthLoginHint(t *testing.T) {
	t.Parallel()
	host := testutil.DistributionWith(t, testutil.DistributionOptions{Htpasswd: testutil.Htpasswd(t, t.TempDir(), "mirror", "pw")})
	cfg := filepath.Join(t.TempDir(), "my config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := doctor(t, host, client)
	auth := res.Check(mirror.CheckAuth)
	want := "`stella mirror login " + host + " -u USER --password-stdin --plain-http --registry-config '" + cfg + "'`"
	if !errors.Is(err, errdef.ErrUnavailable) || auth == nil || auth.Status != mirror.CheckFail || !strings.Contains(auth.Detail, want) {
		t.Fatalf("err %v, auth %+v; want a failure saying %s", err, auth, want)
	}
	// The host (--plain-http-host) is named first, as it was given, and
	// every other host named beside it (its token service may be one).
	if client, err = remote.New(remote.Options{PlainHTTPHosts: []string{"other:5000", host}, ConfigFile: cfg, Retries: 1}); err != nil {
		t.Fatal(err)
	}
	res, err = doctor(t, host, client)
	auth = res.Check(mirror.CheckAuth)
	want = "`stella mirror login " + host + " -u USER --password-stdin --plain-http-host " + host + " --plain-http-host other:5000 --registry-config '" + cfg + "'`"
	if !errors.Is(err, errdef.ErrUnavailable) || auth == nil || auth.Status != mirror.CheckFail || !strings.Contains(auth.Detail, want) {
		t.Fatalf("--plain-http-host: err %v, auth %+v; want a failure saying %s", err, auth, want)
	}
}
