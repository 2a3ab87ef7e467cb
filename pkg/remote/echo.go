package remote

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxErrorBody bounds the error answer echoScrub reads: oras-go reads 8 KiB
// of one, transfer.Uploader 64 KiB; nothing reads more.
const maxErrorBody = 64 << 10

// echoScrub blanks the credentials a request carried (its Authorization
// header, the header's base64, the user:password and password of Basic
// auth, a bearer token, and the password or refresh token of an OAuth2
// token form) out of the body of an error answer, where a registry or
// token service may echo what it was sent ("message", "detail"): oras-go
// puts those bodies in its errors, and stella prints errors. It sits under
// the auth layer, so it sees the header and form sent.
type echoScrub struct{ base http.RoundTripper }

func (s echoScrub) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || resp.StatusCode < http.StatusBadRequest || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	secrets := escaped(append(credentialsIn(req.Header.Get("Authorization")), formCredentials(req)...))
	if len(secrets) == 0 {
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		data = bytes.ReplaceAll(data, []byte(s), []byte("***"))
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// credentialsIn returns the secrets an Authorization header holds.
func credentialsIn(authz string) []string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(authz), " ")
	cred = strings.TrimSpace(cred)
	if !ok || cred == "" {
		return nil
	}
	plain := []string{cred}
	if strings.EqualFold(scheme, "Basic") {
		if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
			plain = append(plain, string(raw))
			if _, pw, ok := strings.Cut(string(raw), ":"); ok && pw != "" {
				plain = append(plain, pw)
			}
		}
	}
	return plain
}

// formCredentials returns the secrets of an OAuth2 token request's form
// (oras-go posts a refresh token, or a user name and password), each also
// as the form encodes it, since a token service may echo the raw body.
func formCredentials(req *http.Request) []string {
	if req.Method != http.MethodPost || req.GetBody == nil ||
		!strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxErrorBody))
	if err != nil {
		return nil
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil
	}
	var out []string
	for _, key := range []string{"refresh_token", "password"} {
		if v := form.Get(key); v != "" {
			out = append(out, v, url.QueryEscape(v))
		}
	}
	return out
}

// escaped returns the secrets each also as it reads inside a JSON string,
// longest first (so that a secret inside another is not left half blanked).
func escaped(plain []string) []string {
	var out []string
	for _, p := range plain {
		out = append(out, p)
		for _, html := range []bool{true, false} {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if enc.Encode(p) == nil {
				if q := strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]; q != p {
					out = append(out, q)
				}
			}
		}
	}
	// Longest first: user:password before password.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
