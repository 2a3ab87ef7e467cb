package remote

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// MaxRetryAfter bounds one wait that a registry's Retry-After asks for:
// a hosted registry's rate limit asks for seconds to a minute, and a
// header is attacker-controllable, so that a run waits at most this long
// a retry (Options.Retries of them) instead of for the hours a registry
// may name. An interrupted run stops waiting at once.
const MaxRetryAfter = 30 * time.Second

// RetryAfter returns how long a 429 or 503 answer asks the client to wait
// before trying again, from its Retry-After in either form (seconds, or an
// HTTP-date), at most MaxRetryAfter; 0 for another answer, or none.
func RetryAfter(resp *http.Response) time.Duration {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = time.Until(at)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// retryAfterPolicy is a policy that waits at least as long as a
// registry's Retry-After asks (RetryAfter): oras-go's caps every wait at
// its MaxWait (3 seconds) and reads only a 429's header in seconds, so a
// rate-limited run came back too early, was refused again, and failed
// once its retries were spent.
type retryAfterPolicy struct{ *retry.GenericPolicy }

func (p retryAfterPolicy) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	d, rerr := p.GenericPolicy.Retry(attempt, resp, err)
	if d < 0 || rerr != nil {
		return d, rerr
	}
	return max(d, RetryAfter(resp)), nil
}
