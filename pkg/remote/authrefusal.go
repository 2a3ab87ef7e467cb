package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"weak"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// authRefusal is the error of a request the auth layer could not
// authenticate (a Basic challenge met with no credentials, a token
// service's refusal), with what the run knew of it, which Classify's
// advice needs and the error's own words do not say: the login that saves
// credentials for the registry, written with the flags the run talks to
// it with (plain HTTP, TLS and the client certificate, the credentials
// file), so that it runs as printed; and whether the run had credentials
// for it at all.
type authRefusal struct {
	err error
	// host is the registry, HOST[:PORT].
	host string
	// login is Options.LoginCommand of the registry.
	login string
	// anonymous says that the run had no credentials for the registry.
	anonymous bool
}

func (a *authRefusal) Error() string { return a.err.Error() }
func (a *authRefusal) Unwrap() error { return a.err }

// refused returns err as an authRefusal where it is one (a Basic
// challenge met with no credentials: ErrBasicCredentialNotFound; a 401 or
// 403 of the token service, which answers outside the registry's API),
// else err. Whether the run had credentials is asked of the store the
// request was made with, once the request has failed.
func (c reauthClient) refused(ctx context.Context, err error) error {
	anonymous := errors.Is(err, auth.ErrBasicCredentialNotFound)
	if !anonymous {
		var resp *errcode.ErrorResponse
		if !errors.As(err, &resp) || resp.URL == nil || apiPath(resp.URL) ||
			(resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
			return err
		}
		// Asked as the auth client asks: under the registry's host,
		// registry-1.docker.io for docker.io, which the store reads
		// under the key docker login saves Docker Hub's under.
		cred, cerr := c.Client.Credential(ctx, registry.Reference{Registry: c.host}.Host())
		anonymous = cerr == nil && cred == auth.EmptyCredential
	}
	return &authRefusal{err: err, host: c.host, login: c.opts.LoginCommand(c.host), anonymous: anonymous}
}

// answerRefusals holds, for each answer 401 or 403 of a registry's API,
// the client that was refused, by the URL of the request, which the error
// oras-go makes of the answer keeps (errcode.ErrorResponse.URL): oras-go
// turns the answer into an error after Do has returned it, where the
// login and whether the run had credentials are no longer known. A token
// service that grants a request without credentials a token to pull
// (public repositories) has the registry refuse its push so,
// insufficient_scope: there are no credentials to check, but a login to
// make; credentials refused (a password changed since the login) are
// replaced by one. Whether the run had credentials is asked of the store
// once the refusal is reported (answerRefusal), not as it is recorded:
// most refusals are reported by no one (a mount the registry declines,
// which an upload mends, once for each blob of an import), and a store
// may run a credential helper for each question. An entry goes with its
// URL.
var answerRefusals sync.Map // weak.Pointer[url.URL] → reauthClient

// refusedAnswer records resp, the answer of Do, in answerRefusals where
// it is the registry's refusal of a request.
func (c reauthClient) refusedAnswer(resp *http.Response) {
	if (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) ||
		resp.Request == nil || resp.Request.URL == nil || !apiPath(resp.Request.URL) {
		return
	}
	key := weak.Make(resp.Request.URL)
	answerRefusals.Store(key, c)
	runtime.AddCleanup(resp.Request.URL, func(key weak.Pointer[url.URL]) { answerRefusals.Delete(key) }, key)
}

// answerRefusal returns err as an authRefusal where it is the answer
// refusedAnswer recorded, else err.
func answerRefusal(err error) error {
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) || resp.URL == nil || errors.As(err, new(*authRefusal)) {
		return err // not an answer, or one classified already
	}
	r, ok := answerRefusals.Load(weak.Make(resp.URL))
	if !ok {
		return err
	}
	c := r.(reauthClient)
	// Asked under the registry's host, as refused asks.
	cred, cerr := c.Client.Credential(context.Background(), registry.Reference{Registry: c.host}.Host())
	if cerr != nil {
		return err
	}
	return &authRefusal{err: err, host: c.host, login: c.opts.LoginCommand(c.host), anonymous: cred == auth.EmptyCredential}
}
