package remote

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxErrorBody bounds the error answer echoScrub reads: oras-go reads 8 KiB
// of one, transfer.Uploader 64 KiB; nothing reads more.
const maxErrorBody = 64 << 10

// echoScrub blanks the credentials a request carried (its Authorization
// header, the header's base64, the user:password and password of Basic
// auth, a bearer token) out of the body of an error answer, where a
// registry or token service may echo what it was sent ("message",
// "detail"): oras-go puts those bodies in its errors, and stella prints
// errors. It sits under the auth layer, so it sees the header sent.
type echoScrub struct{ base http.RoundTripper }

func (s echoScrub) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || resp.StatusCode < http.StatusBadRequest || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	secrets := credentialsIn(req.Header.Get("Authorization"))
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

// credentialsIn returns the secrets an Authorization header holds, longest
// first (so that a secret inside another is not left half blanked), each
// also as it reads inside a JSON string.
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
