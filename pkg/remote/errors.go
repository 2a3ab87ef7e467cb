package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	orasdef "oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/stellaops/mirror/pkg/errdef"
)

// classified keeps an error's own message and adds the sentinel that says
// what it means, so errors.Is(err, errdef.ErrNotFound) works on a registry's
// 404 without the message changing.
type classified struct {
	err  error
	kind error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.kind} }

// ErrListing is errdef.ErrMalformed of a registry's listing (referrers,
// tags): the registry's answer, not any one manifest's content. A reader
// that passes over a manifest it finds malformed does not pass over one
// whose listing failed so: every manifest of that registry would be.
var ErrListing = fmt.Errorf("registry listing: %w", errdef.ErrMalformed)

// Classify adds the errdef sentinel that an error from a registry call
// means: a 404 or oras "not found" is errdef.ErrNotFound; a network failure,
// a TLS failure (an untrusted certificate, a client certificate missing or
// refused: ClientCertError), a 5xx or 429 after retries, or an auth refusal is
// errdef.ErrUnavailable. Other errors, and nil, are returned as they are.
func Classify(err error) error {
	if err == nil {
		return err
	}
	storage := storageRequest(err)
	err = answerRefusal(err) // before dropQueries changes the URL
	dropQueries(err)
	return withoutURLSecrets(classify(err, storage))
}

// classify is Classify; storage says that err is the answer of a request
// the registry redirected to its storage (storageRequest).
func classify(err error, storage bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	for _, s := range []error{errdef.ErrNotFound, errdef.ErrUnavailable, errdef.ErrDigestMismatch, errdef.ErrMalformed} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		if refusal := new(authRefusal); errors.As(err, &refusal) {
			return &classified{fmt.Errorf("%w (the registry wants credentials: `%s`, `docker login`, or --registry-config)", err, refusal.login), errdef.ErrUnavailable}
		}
		// Not a request of a Client's (its flags unknown).
		return &classified{fmt.Errorf("%w (the registry wants credentials: `%s`, with the TLS flags (--ca-file, --cert-file, --key-file, --certs-dir, --insecure) and --registry-config of this run, `docker login`, or --registry-config)", err, basicLogin(err)), errdef.ErrUnavailable}
	}
	if errors.Is(err, http.ErrSchemeMismatch) {
		return &classified{fmt.Errorf("%w (the registry speaks plain HTTP: if it has no TLS, --plain-http-host %s talks plain HTTP to it alone, --plain-http to every registry of the run; --from-plain-http or --to-plain-http for one side only of a sync or an import REF)", err, plainHostOf(err)), errdef.ErrUnavailable}
	}
	var certErr *ClientCertError
	if errors.As(err, &certErr) {
		// As for an untrusted registry certificate: the connection is
		// refused, and no retry changes that.
		return &classified{err, errdef.ErrUnavailable}
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &tlsErr) {
		return &classified{fmt.Errorf("%w (the registry's TLS certificate is not trusted: --ca-file names the CA that issued it)", err), errdef.ErrUnavailable}
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return &classified{err, errdef.ErrNotFound}
		case storage && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
			return &classified{fmt.Errorf("%w (the registry sent the request on to its storage at %s, which refused it: the registry's own storage credentials, or its clock and the storage's apart (a presigned URL expired), not the credentials stella sends)", err, resp.URL.Host), errdef.ErrUnavailable}
		case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			dropScopeDetail(resp)
			// A refusal of a run with no credentials: there are none
			// to check, but a login to make, as doctor says.
			if refusal := new(authRefusal); errors.As(err, &refusal) && refusal.anonymous {
				// The registry itself (a token service's token to
				// pull refused for a push), or its token service.
				who := "the registry"
				if !apiPath(resp.URL) {
					who = "its token service at " + resp.URL.Host
				}
				return &classified{fmt.Errorf("%w (%s refused a request without credentials: there are no credentials for %s: `%s`, `docker login`, or --registry-config)", err, who, refusal.host, refusal.login), errdef.ErrUnavailable}
			}
			if refusal := new(authRefusal); errors.As(err, &refusal) {
				// Credentials refused: checked, or replaced by a login.
				return &classified{fmt.Errorf("%w (%s: `%s` replaces them)", err, credentialsHint(resp.URL), refusal.login), errdef.ErrUnavailable}
			}
			return &classified{fmt.Errorf("%w (%s)", err, credentialsHint(resp.URL)), errdef.ErrUnavailable}
		case resp.StatusCode == http.StatusRequestEntityTooLarge:
			// Uploads shrink their requests down to 512 KiB first; a
			// manifest is one request whatever its size.
			return &classified{fmt.Errorf("%w (a proxy in front of %s limits the size of requests: raise its limit, as the registry's own setup does: nginx client_max_body_size 0)", err, resp.URL.Host), errdef.ErrUnavailable}
		case resp.StatusCode >= 500 && storageFault(resp) != "":
			return &classified{fmt.Errorf("%w (registry %s: %s)", err, resp.URL.Host, storageFault(resp)), errdef.ErrUnavailable}
		case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
			return &classified{err, errdef.ErrUnavailable}
		case resp.StatusCode == http.StatusMethodNotAllowed && takesNoPush(resp):
			return &classified{fmt.Errorf("%w (registry %s takes no push: it is in read-only mode (a maintenance window) or a pull-through cache (proxy.remoteurl); run again once it takes pushes, or into a registry that does)", err, resp.URL.Host), errdef.ErrUnavailable}
		case resp.StatusCode == http.StatusBadRequest && len(resp.Errors) == 0 && resp.URL != nil && resp.URL.Scheme == "http":
			// A TLS port answers a plain HTTP request 400 with no OCI
			// error (Go's "Client sent an HTTP request to an HTTPS
			// server", nginx's "The plain HTTP request was sent to HTTPS
			// port"), as doctor's reachability check says.
			// Whichever flag the run talked plain HTTP to it with.
			return &classified{fmt.Errorf("%w (the registry may speak HTTPS: drop --plain-http, the --from-plain-http or --to-plain-http of its side of a sync or an import REF, or %s from --plain-http-host; --plain-http-host HOST[:PORT] for the registries without TLS only)", err, resp.URL.Host), errdef.ErrUnavailable}
		}
		return err
	}
	if errors.Is(err, orasdef.ErrNotFound) {
		return &classified{err, errdef.ErrNotFound}
	}
	// A listing (referrers, tags) the registry answered with what is not
	// the format's: pages that never end (oras-go's bound on pages), a
	// Link to the next page that is broken or names another host, a page
	// that is not JSON. Hostile or broken content, as a manifest answered
	// as another media type: malformed; no retry mends it.
	if errors.Is(err, orasdef.ErrTooManyPages) {
		return &classified{fmt.Errorf("%w (the registry's listing pages without end)", err), ErrListing}
	}
	if msg := err.Error(); strings.Contains(msg, "invalid next link \"") ||
		(strings.Contains(msg, ": failed to decode response: ") && (strings.Contains(msg, "/referrers/") || strings.Contains(msg, "/tags/list"))) {
		return &classified{err, ErrListing}
	}
	if IsTransient(err) {
		return &classified{err, errdef.ErrUnavailable}
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return &classified{err, errdef.ErrUnavailable}
	}
	// oras-go checks the digest a registry answers a manifest PUT with and
	// reports another with an error of no type: the registry stored other
	// bytes than those sent. (TestManifestStoredUnderAnotherDigest pins
	// the text.)
	if strings.Contains(err.Error(), "digest mismatch in Docker-Content-Digest") {
		return &classified{servedOther(err), errdef.ErrDigestMismatch}
	}
	// The same for an answer whose Content-Length is not the size of the
	// descriptor asked for (TestContentLengthNotTheDescriptorsSize): other
	// content than the descriptor names, as it is once its bytes are
	// counted where the answer gives no length.
	if strings.HasSuffix(err.Error(), ": mismatch Content-Length") {
		return &classified{fmt.Errorf("%w (the registry's answer is not the size the descriptor gives)", err), errdef.ErrDigestMismatch}
	}
	// And a manifest answered as another media type than its descriptor
	// names (TestContentTypeNotTheDescriptorsMediaType): malformed, as
	// create's own check of the document's type says; no retry mends it.
	if strings.Contains(err.Error(), ": mismatch response Content-Type ") {
		return &classified{fmt.Errorf("%w (the registry serves the document as another media type than its descriptor names)", err), errdef.ErrMalformed}
	}
	return err
}

// servedDigest matches oras-go's words for a fetch by digest answered with
// a Docker-Content-Digest that is not the digest asked for.
var servedDigest = regexp.MustCompile(`(?:GET|HEAD) "[^"]*": invalid response; digest mismatch in Docker-Content-Digest: received "([^"]*)" when expecting "([^"]*)"`)

// servedOther is err, of a fetch by digest that the registry answered with
// other content (its Docker-Content-Digest another digest), in words that
// name the digest asked for once and the one served: oras-go's named the
// first in the URL and as the digest expected, after a caller's own
// "manifest sha256:…". The digest asked for is kept where no caller named
// it before. A write's (the registry stored other bytes than those sent)
// is left as it is.
func servedOther(err error) error {
	msg := err.Error()
	loc := servedDigest.FindStringSubmatchIndex(msg)
	if loc == nil {
		return err
	}
	served, asked := msg[loc[2]:loc[3]], msg[loc[4]:loc[5]]
	words := "the registry serves other content for it, of digest " + served + " (its Docker-Content-Digest): " + errdef.ErrDigestMismatch.Error()
	if !strings.Contains(msg[:loc[0]], asked) {
		words = asked + ": " + words
	}
	return &rewritten{err, msg[:loc[0]] + words + msg[loc[1]:]}
}

// dropQueries removes the query from the URLs that err's message names (an
// oras-go error answer, a net/http request error). A registry that sends
// a blob to its storage backend does so with a presigned URL, whose query
// is a signature granting access to the blob (S3's X-Amz-Signature,
// Azure's sig): should the storage fail, it would be printed. Both errors
// are made afresh for the one request that failed, so they are changed in
// place, the request's own URL untouched.
func dropQueries(err error) {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && resp.URL != nil && (resp.URL.RawQuery != "" || resp.URL.User != nil) {
		u := *resp.URL
		u.RawQuery, u.ForceQuery, u.User = "", false, nil
		resp.URL = &u
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && (u.RawQuery != "" || u.User != nil) {
			u.RawQuery, u.ForceQuery, u.User = "", false, nil
			urlErr.URL = u.String()
		}
	}
}

// urlSecrets matches the userinfo and query of the URLs in a message.
var urlSecrets = regexp.MustCompile(`(https?://)(?:[^\s"'/?#@]*@)?([^\s"'?#]*)(?:\?[^\s"'#]*)?`)

// withoutURLSecrets is err with no userinfo or query in the URLs its
// message names. dropQueries changes the errors that hold a URL, but a
// message is written when an error is wrapped (transfer.FetchBytes's
// "blob sha256:…: …" before its caller classifies it), and oras-go names
// the URL an answer came from in errors of no type (`GET "…": mismatch
// Content-Length`): a presigned signature there was printed. The error's
// chain is kept, for errors.Is and As.
func withoutURLSecrets(err error) error {
	msg := err.Error()
	clean := urlSecrets.ReplaceAllString(msg, "$1$2")
	if clean == msg {
		return err
	}
	return &rewritten{err, clean}
}

// rewritten is an error with its message rewritten.
type rewritten struct {
	err error
	msg string
}

func (r *rewritten) Error() string { return r.msg }
func (r *rewritten) Unwrap() error { return r.err }

// dropScopeDetail removes from an auth refusal the details that are not
// words: the distribution registry answers a 401 with the access scope it
// was asked for ([{Type:repository Name:… Action:pull}]), which oras-go
// prints as a Go map, "[map[Action:pull Class: Name:… Type:repository]]",
// in the middle of the line that tells the operator to check the
// credentials. The repository is named before it already. A detail that
// is text (a registry's own explanation) is kept. Changed in place, as
// dropQueries does: the answer is made afresh for the request that failed.
func dropScopeDetail(resp *errcode.ErrorResponse) {
	for i := range resp.Errors {
		if _, text := resp.Errors[i].Detail.(string); !text {
			resp.Errors[i].Detail = nil
		}
	}
}

// IsTransient reports whether err is worth retrying: a dropped or refused
// connection, a timeout, a body cut short, or a 5xx/429 answer.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrNotFound) {
		return false
	}
	if certErr := new(ClientCertError); errors.As(err, &certErr) || errors.As(err, new(*handshakeRefused)) {
		return false // a TLS alert travels in a net.Error, but is the registry's answer
	}
	if errors.As(err, new(*PlainCredentialsError)) {
		return false // kept back by stella (plainCredentials), in a url.Error: kept back again
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && storageFault(resp) == ""
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A network error, but not a bare system error: every errno passes for
	// a net.Error, and a local file's (a full disk, a file too large, no
	// permission) does not mend by trying again.
	var netErr net.Error
	if errors.As(err, &netErr) {
		_, local := netErr.(syscall.Errno)
		return !local
	}
	return false
}

// storageRequest reports whether err is the answer to a GET outside the
// registry's API (/v2/) that is no token request (a token service is asked
// with a service or scope, or by POST, and oras-go's auth client names the
// request to the API it asked for around its answer): a blob GET the
// registry redirected to its storage, by a presigned URL. Asked before
// dropQueries drops the query that tells them apart.
func storageRequest(err error) bool {
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) || resp.URL == nil || (resp.Method != http.MethodGet && resp.Method != http.MethodHead) ||
		apiPath(resp.URL) {
		return false
	}
	q := resp.URL.Query()
	if q.Has("service") || q.Has("scope") || q.Has("account") {
		return false
	}
	// A challenge that names no service, for a request of no scope
	// (login's check, GET /v2/), asks the token service with no query:
	// its answer comes wrapped in the API request's (`GET "…/v2/": GET
	// "…/token": …`).
	// Both without their URLs' queries: the message was written when the
	// error was wrapped, with the answer's URL whole, and an earlier
	// Classify of the same error (pkg/mirror asks isNotFound first) has
	// dropped the query from the answer since (dropQueries); matched
	// whole, the answer was not found in the message, and a token
	// service's refusal was taken for the storage's.
	msg := urlSecrets.ReplaceAllString(err.Error(), "$1$2")
	if i := strings.Index(msg, urlSecrets.ReplaceAllString(resp.Error(), "$1$2")); i > 0 {
		if m := wrappingRequest.FindStringSubmatch(msg[:i]); m != nil {
			if u, perr := url.Parse(m[1]); perr == nil && apiPath(u) {
				return false
			}
		}
	}
	return true
}

// wrappingRequest matches the request oras-go's auth client names before
// the answer of the token service it asked for it.
var wrappingRequest = regexp.MustCompile(`"(https?://[^"\s]*)": $`)

// apiPath reports whether u is of the registry's API, /v2/.
func apiPath(u *url.URL) bool {
	return strings.HasPrefix(u.Path, "/v2/") || u.Path == "/v2"
}

// credentialsHint says whose credentials to check after a refusal by u. A
// registry's API is under /v2/; anything else is its token service (Docker
// Hub's auth.docker.io), whose host is not where the credentials are kept
// nor what login takes: the registry is, named earlier in the error.
func credentialsHint(u *url.URL) string {
	if u == nil {
		return "check the credentials for the registry"
	}
	if !strings.HasPrefix(u.Path, "/v2/") && u.Path != "/v2" {
		return fmt.Sprintf("check the credentials for the registry: its token service at %s refused them", u.Host)
	}
	return "check the credentials for " + u.Host
}

// storageFaults are the faults of a registry's own storage that its 5xx
// answer names, with what to do (read, if set, where a read met it): the
// distribution registry's filesystem driver passes the system error on in
// the answer's detail (`filesystem: write …/startedat…: no space left on
// device`), and its S3 and Azure drivers the error of the bucket or
// container that refused it. None mends within a run, so none is retried:
// a retry of an upload against a full disk only leaves one more empty
// session on it.
var storageFaults = []struct{ text, hint, read string }{
	// ENOSPC is also a file system out of inodes, bytes to spare (df -h
	// shows room): the registry keeps several files for each blob.
	{"no space left on device", "its storage is full: free space on it (df -h, and df -i: it may have run out of files, not bytes), then run the command again, which sends only what is missing", ""},
	{"disk quota exceeded", "its storage quota is used up: raise it or free space, then run the command again, which sends only what is missing", ""},
	{"read-only file system", "its storage is mounted read-only: remount it read-write, then run the command again", ""},
	{"permission denied", unwritable, unreadable},
	{"operation not permitted", unwritable, unreadable}, // EPERM: an immutable directory (chattr +i), even for root
	// The S3 driver (registry/storage/driver/s3-aws/s3.go, "s3aws")
	// passes aws-sdk-go's error on as it is: `AccessDenied: Access
	// Denied` then its status line. The Azure driver
	// (registry/storage/driver/azure/azure.go, "azure") passes azcore's
	// ResponseError, `ERROR CODE: AuthorizationPermissionMismatch` (the
	// credentials' role lacks the permission) or `AuthorizationFailure`
	// (the account's network rules or a SAS refuse the registry).
	{"accessdenied", bucketDenied, bucketDeniedRead},
	{"authorizationpermissionmismatch", bucketDenied, bucketDeniedRead},
	{"authorizationfailure", bucketDenied, bucketDeniedRead},
	{"insufficientaccountpermissions", bucketDenied, bucketDeniedRead},
}

// unwritable is what to do about a storage directory the registry may not
// write: one repository's, or all of it; unreadable about a file of its
// storage that it may not read, met by a read (a GET). bucketDenied and
// bucketDeniedRead are the same for an S3 bucket or an Azure container,
// with the permissions distribution's storage-driver pages ask for.
const (
	unwritable       = "it may not write its storage there (the path above): give the registry's user write access to it (ls -ld, lsattr -d), then run the command again"
	unreadable       = "it may not read its storage there (the path above): give the registry's user read access to it (ls -l, and ls -ld of its directories), then run the command again"
	bucketDenied     = "its storage bucket or container refuses it (S3 AccessDenied, Azure AuthorizationPermissionMismatch or AuthorizationFailure): let the registry's storage credentials write and read there (S3: s3:PutObject, s3:GetObject, s3:DeleteObject, s3:ListBucket and the multipart-upload actions in the IAM or bucket policy; Azure: the Storage Blob Data Contributor role on the container or account, and network rules that admit the registry), then run the command again, which sends only what is missing"
	bucketDeniedRead = "its storage bucket or container refuses it read access (S3 AccessDenied, Azure AuthorizationPermissionMismatch or AuthorizationFailure): let the registry's storage credentials read there (S3: s3:GetObject and s3:ListBucket in the IAM or bucket policy, and the KMS key's decrypt for an encrypted bucket; Azure: the Storage Blob Data Reader or Contributor role on the container or account, and network rules that admit the registry), then run the command again"
)

// storageFault returns what to do about the fault of its storage that a
// registry's 5xx answer names, or "" if it names none. 507 Insufficient
// Storage (WebDAV's, which some fronts answer) is a full storage too. Only
// an answer of the registry's API (/v2/) speaks of its storage: a token
// service's 500 with the same words ("permission denied" from its LDAP
// backend) is a fault of the moment like any other, retried.
func storageFault(resp *errcode.ErrorResponse) string {
	if resp.URL == nil || !strings.HasPrefix(resp.URL.Path, "/v2/") {
		return ""
	}
	if resp.StatusCode == http.StatusInsufficientStorage {
		return storageFaults[0].hint
	}
	for _, e := range resp.Errors {
		text := strings.ToLower(e.Message + " " + fmt.Sprint(e.Detail))
		for _, f := range storageFaults {
			if strings.Contains(text, f.text) {
				if f.read != "" && resp.Method == http.MethodGet {
					return f.read
				}
				return f.hint
			}
		}
	}
	return ""
}

// IsStorageFault reports whether err is a registry's answer naming a
// fault of its own storage (a full disk, a read-only or unwritable
// storage directory): a 5xx that no retry mends.
func IsStorageFault(err error) bool {
	var resp *errcode.ErrorResponse
	return errors.As(err, &resp) && resp.StatusCode >= 500 && storageFault(resp) != ""
}

// takesNoPush reports whether a 405 answers a push: an upload's POST or a
// manifest PUT, which a registry that takes pushes never refuses so. The
// distribution registry answers every push so in read-only mode
// (storage.maintenance.readonly: `Method not allowed`, Allow: GET, HEAD)
// and as a pull-through cache (proxy.remoteurl: UNSUPPORTED); the first
// write of an import that finds every blob present is a tag. A PATCH
// refused so (no chunked uploads) and a refused mount are met before they
// get here.
func takesNoPush(resp *errcode.ErrorResponse) bool {
	if resp.URL == nil {
		return false
	}
	upload := resp.Method == http.MethodPost && strings.HasSuffix(resp.URL.Path, "/blobs/uploads/")
	manifest := resp.Method == http.MethodPut && strings.Contains(resp.URL.Path, "/manifests/")
	return upload || manifest
}

// storageFaultAnswer reports whether a registry's 5xx answer names a fault
// of its storage (storageFault), reading at most maxErrorBody of its body
// and leaving the body whole for the caller.
func storageFaultAnswer(resp *http.Response) bool {
	if resp.Request == nil || !strings.HasPrefix(resp.Request.URL.Path, "/v2/") {
		return false
	}
	if resp.StatusCode == http.StatusInsufficientStorage {
		return true
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.Unmarshal(data, &body) != nil {
		return false
	}
	return storageFault(&errcode.ErrorResponse{StatusCode: resp.StatusCode, URL: resp.Request.URL, Errors: body.Errors}) != ""
}

// basicLogin is the login that saves credentials for the registry whose
// Basic challenge met none (err, ErrBasicCredentialNotFound), talking to
// it as the run did: with --plain-http-host HOST where the run talked
// plain HTTP to it, whichever flag said so (--plain-http, --plain-http-host,
// a sync's or an import REF's --from-plain-http or --to-plain-http, which
// login has not). oras-go names the request only in the message (`GET
// "URL": basic credential not found`); where it does not, HOST stands for
// the registry.
func basicLogin(err error) string {
	host, plain := "HOST", false
	msg := err.Error()
	if i := strings.LastIndex(msg, auth.ErrBasicCredentialNotFound.Error()); i > 0 {
		if m := wrappingRequest.FindStringSubmatch(msg[:i]); m != nil {
			// A request of the registry's API only: one it sent on
			// elsewhere (its storage) is not the registry to log in to.
			if u, perr := url.Parse(m[1]); perr == nil && u.Host != "" && u.User == nil && apiPath(u) {
				host, plain = u.Host, u.Scheme == "http"
			}
		}
	}
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != "" {
		host = "'" + strings.ReplaceAll(host, "'", `'\''`) + "'" // [::1]:5000, for the shell
	}
	login := "stella mirror login " + host + " -u USER --password-stdin"
	if plain {
		login += " --plain-http-host " + host
	}
	return login
}

// plainHostOf returns the HOST[:PORT] of the request err failed (a
// *url.Error's URL), as --plain-http-host takes it, or HOST[:PORT].
func plainHostOf(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" && u.User == nil {
			return u.Host
		}
	}
	return "HOST[:PORT]"
}
