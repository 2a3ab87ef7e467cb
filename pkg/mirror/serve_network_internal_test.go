package mirror

import "testing"

// TestServeListenNetwork: serve --addr 0.0.0.0:5000 listened on Go's
// "tcp", which for an unspecified address takes IPv6 too (a dual-stack
// socket): the bundle was reachable over IPv6, which an operator who gave
// the IPv4 any-address does not expect (nor firewall), and serve printed
// every reference as [::]:5000/…. An IPv4 address listens on IPv4 alone,
// an IPv6 one on IPv6 alone; a name, or no host (:5000), as before.
func TestServeListenNetwork(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:5000":   "tcp4",
		"127.0.0.1:0":    "tcp4",
		"10.1.2.3:5000":  "tcp4",
		"[::]:5000":      "tcp6",
		"[::1]:0":        "tcp6",
		":5000":          "tcp",
		"localhost:5000": "tcp",
		"mirror.lan:443": "tcp",
	} {
		if got := listenNetwork(addr); got != want {
			t.Errorf("listenNetwork(%q) = %q, want %q", addr, got, want)
		}
	}
}
