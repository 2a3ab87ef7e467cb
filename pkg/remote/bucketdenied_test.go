package remote_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// The distribution registry on S3 or Azure storage answers 500 UNKNOWN
// when its bucket or container refuses it, with the driver's error as the
// detail: storagedriver.Error's JSON, {"driver":"s3aws","detail":…}
// (registry/storage/driver/storagedriver.go, base/base.go), the detail
// being aws-sdk-go's `AccessDenied: Access Denied` with its status line,
// or azcore's ResponseError with `ERROR CODE: AuthorizationPermissionMismatch`.
// It was retried as a fault of the moment, five times, then told bare. Now
// it is tried once and told with what to do: the bucket's or container's
// permissions.
func TestBucketOrContainerRefusesTheRegistry(t *testing.T) {
	const (
		s3 = `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"driver":"s3aws","detail":"AccessDenied: Access Denied\n\tstatus code: 403, request id: 4XJ2RDJ0Q0PVYTBS, host id: Zk9vYmFy"}}]}`
		// The detail a handler passes on as a string.
		s3String   = `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"s3aws: AccessDenied: Access Denied\n\tstatus code: 403, request id: 4XJ2RDJ0Q0PVYTBS, host id: Zk9vYmFy"}]}`
		azureRole  = `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"driver":"azure","detail":"PUT https://acct.blob.core.windows.net/registry/docker/registry/v2/repositories/stellaops/app/_uploads/x/data\n--------------------------------------------------------------------------------\nRESPONSE 403: 403 This request is not authorized to perform this operation using this permission.\nERROR CODE: AuthorizationPermissionMismatch\n--------------------------------------------------------------------------------\n\u003c?xml version=\"1.0\" encoding=\"utf-8\"?\u003e\u003cError\u003e\u003cCode\u003eAuthorizationPermissionMismatch\u003c/Code\u003e\u003c/Error\u003e\n--------------------------------------------------------------------------------\n"}}]}`
		azureFirew = `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"driver":"azure","detail":"GET https://acct.blob.core.windows.net/registry/docker/registry/v2/blobs/sha256/44/4413/data\n--------------------------------------------------------------------------------\nRESPONSE 403: 403 This request is not authorized to perform this operation.\nERROR CODE: AuthorizationFailure\n--------------------------------------------------------------------------------\n"}}]}`
	)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	blob := []byte("a layer")
	blobDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	for _, tt := range []struct {
		name, method, body, want string
		do                       func(t *testing.T, host string) error
	}{
		{"S3, a manifest", http.MethodPut, s3, "its storage bucket or container refuses it (S3 AccessDenied, Azure AuthorizationPermissionMismatch or AuthorizationFailure): let the registry's storage credentials write and read there", func(t *testing.T, host string) error {
			repo, _ := testutil.ClientWith(t, remote.Options{Retries: 5}).Repository(host + "/stellaops/app")
			desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
			return repo.PushReference(t.Context(), desc, bytes.NewReader(manifest), "2025.10.0")
		}},
		{"S3, a string detail", http.MethodPost, s3String, "its storage bucket or container refuses it", func(t *testing.T, host string) error {
			repo, _ := testutil.ClientWith(t, remote.Options{Retries: 5}).Repository(host + "/stellaops/app")
			return repo.Blobs().Push(t.Context(), blobDesc, bytes.NewReader(blob))
		}},
		{"Azure, an upload", http.MethodPost, azureRole, "Storage Blob Data Contributor", func(t *testing.T, host string) error {
			repo, _ := testutil.ClientWith(t, remote.Options{Retries: 5}).Repository(host + "/stellaops/app")
			return repo.Blobs().Push(t.Context(), blobDesc, bytes.NewReader(blob))
		}},
		{"Azure, a read", http.MethodGet, azureFirew, "its storage bucket or container refuses it read access", func(t *testing.T, host string) error {
			repo, _ := testutil.ClientWith(t, remote.Options{Retries: 5}).Repository(host + "/stellaops/app")
			rc, err := repo.Blobs().Fetch(t.Context(), ocispec.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", Size: 2})
			if err == nil {
				rc.Close()
			}
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var refused atomic.Int64
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == tt.method && strings.HasPrefix(r.URL.Path, "/v2/stellaops/") {
						refused.Add(1)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusInternalServerError)
						fmt.Fprint(w, tt.body)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			err := remote.Classify(tt.do(t, host))
			if !errors.Is(err, errdef.ErrUnavailable) || remote.IsTransient(err) || !strings.Contains(err.Error(), "(registry "+host+": "+"its storage bucket or container refuses it") ||
				!strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v\nwant a storage fault, not transient, saying %q", err, tt.want)
			}
			if n := refused.Load(); n != 1 {
				t.Errorf("the registry was asked %d times, want once: its storage's refusal was retried", n)
			}
		})
	}
}
