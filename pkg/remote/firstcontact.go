package remote

import (
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
)

// firstContact sends requests to a registry host one at a time, over
// HTTP/1.1, until one has had an answer, so that a registry refusing the
// client certificate (mutual TLS) is told apart from a connection that
// merely dropped.
//
// Under TLS 1.3 the refusal comes after the handshake, as an alert read on
// the connection. Over HTTP/2 it is lost: the connection's reader reads
// it and closes the connection, and the requests on it fail with "client
// conn could not be established" or "force closed", which say nothing of
// a certificate. Over HTTP/1.1 the request that sent its headers reads the
// alert where its answer would be. Once a request has been answered, the
// host took the certificate (or asked for none) and requests go as they
// come, over HTTP/2 where the registry speaks it. Once one was refused
// for its certificate, so is every later one to the host, without asking
// again: the answer does not change within a run. Once one failed
// otherwise (a dropped connection, a stall), the others go over HTTP/1.1
// as they come, each reading its own refusal, if any.
type firstContact struct {
	first, rest http.RoundTripper

	mu    sync.Mutex
	hosts map[string]*contact
}

// contact is the state of one host.
type contact struct {
	turn     chan struct{} // holds one token: the right to the next request while !answered
	answered atomic.Bool
	// failed says a request failed otherwise than by a refusal of the
	// client certificate (a connection dropped, a stall): the requests
	// behind it then go over HTTP/1.1 as they come, not one at a time,
	// each able to read a refusal where its answer would be.
	failed  atomic.Bool
	refused atomic.Pointer[ClientCertError]
}

// newFirstContact sends the first requests to each host through first
// (HTTP/1.1 only), the others through rest.
func newFirstContact(first, rest http.RoundTripper) *firstContact {
	return &firstContact{first: first, rest: rest, hosts: map[string]*contact{}}
}

// http1Only is t speaking HTTP/1.1 only, with its TLS settings.
func http1Only(t *http.Transport) *http.Transport {
	h1 := t.Clone()
	h1.ForceAttemptHTTP2 = false
	// A non-nil empty map turns HTTP/2 off.
	h1.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	h1.TLSClientConfig.NextProtos = nil
	return h1
}

func (f *firstContact) contact(host string) *contact {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.hosts[host]
	if !ok {
		c = &contact{turn: make(chan struct{}, 1)}
		c.turn <- struct{}{}
		f.hosts[host] = c
	}
	return c
}

func (f *firstContact) RoundTrip(req *http.Request) (*http.Response, error) {
	c := f.contact(req.URL.Host)
	if c.answered.Load() {
		return f.rest.RoundTrip(req)
	}
	if !c.failed.Load() {
		select {
		case <-c.turn:
		case <-req.Context().Done():
			closeBody(req)
			return nil, req.Context().Err()
		}
		if !c.answered.Load() && !c.failed.Load() && c.refused.Load() == nil {
			defer func() { c.turn <- struct{}{} }()
			return f.try(c, req)
		}
		// Answered, refused or failed while this request waited: the turn
		// is passed on at once, so that the requests queued behind the
		// first go together, not each holding the others up for its whole
		// round trip (an upload of a large blob, a stall).
		c.turn <- struct{}{}
	}
	if refused := c.refused.Load(); refused != nil {
		closeBody(req)
		return nil, refused
	}
	if c.answered.Load() {
		return f.rest.RoundTrip(req)
	}
	return f.try(c, req)
}

// try sends req over HTTP/1.1 and records what the host made of it.
func (f *firstContact) try(c *contact, req *http.Request) (*http.Response, error) {
	resp, err := f.first.RoundTrip(req)
	var certErr *ClientCertError
	switch {
	case err == nil:
		c.answered.Store(true)
	case errors.As(err, &certErr):
		c.refused.Store(certErr)
	case req.Context().Err() == nil: // not the caller's giving up
		c.failed.Store(true)
	}
	return resp, err
}

// closeBody closes the body of a request not sent, as a RoundTripper must
// (http.Client leaves it to it).
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
