package remote

import (
	"io"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// reauthClient is an auth client that, where a request is refused (401,
// a bearer challenge) although it went with a token fetched for it
// (auth.Client fetches one on a 401 and tries once more), tries once more
// again. A token can expire between its fetch and its use: a goroutine of
// a loaded machine that waited, a token service whose clock runs ahead of
// the registry's, a token another request fetched moments before its
// lifetime ran out. A credential that is refused costs one request and one
// token fetch more.
//
// Its host's first request goes alone (challengeGate).
//
// Its errors of authentication say the login for host, written with opts
// (authRefusal).
type reauthClient struct {
	*auth.Client
	gate *challengeGate
	host string
	opts Options
}

// Do implements oras-go's remote.Client.
func (c reauthClient) Do(req *http.Request) (*http.Response, error) {
	if err := holdWrite(req); err != nil {
		return nil, err
	}
	resp, err := c.gate.do(req, c.do)
	if err != nil {
		return resp, c.refused(req.Context(), err)
	}
	c.refusedAnswer(resp)
	return checkListingPage(req, resp)
}

func (c reauthClient) do(req *http.Request) (*http.Response, error) {
	resp, err := c.Client.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized ||
		!strings.HasPrefix(strings.ToLower(resp.Header.Get("WWW-Authenticate")), "bearer ") {
		return resp, err
	}
	again := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // a body that cannot be sent again
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return resp, nil
		}
		again.Body = body
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return c.Client.Do(again)
}
