package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeAddr returns a free 127.0.0.1:port for a server another process will
// bind (the registry binary), picked below the kernel's ephemeral port
// range: every port handed out by a listen on :0 or taken as the local end
// of an outgoing connection is in that range, so none of the other tests
// running at the same time can take this one between its choice here and
// the server's bind.
func FreeAddr() (string, error) {
	low, high := 20000, ephemeralStart()
	if high-low < 1000 {
		low = 1024
	}
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(high-low)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port on 127.0.0.1 between %d and %d", low, high)
}

// ephemeralStart is the first port of the kernel's ephemeral range
// (Linux's default where it cannot be read).
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if fields := strings.Fields(string(data)); err == nil && len(fields) == 2 {
		if n, err := strconv.Atoi(fields[0]); err == nil && n > 1024 {
			return n
		}
	}
	return 32768
}
