package cli

import (
	"bufio"
	"bytes"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// unsolicitedRegistry answers its first request with a response and,
// on the same connection, a second response nobody asked for (a broken
// proxy, a registry that answers twice); later requests 404, each after a
// pause, so that the run lasts until the client has met the second.
func unsolicitedRegistry(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var first atomic.Bool
	first.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					req.Body.Close()
					if first.CompareAndSwap(true, false) {
						c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
							"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
						time.Sleep(time.Second)
						return
					}
					time.Sleep(200 * time.Millisecond)
					c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestUnsolicitedResponseLogged: net/http logs a response that arrives on
// an idle connection ("Unsolicited response received on idle HTTP channel
// starting with …") through the standard logger, which wrote it to stderr
// whatever the flags, --quiet included, with a timestamp and in none of
// the CLI's log format. It now goes through the command's logger: a
// warning, left out with --quiet.
func TestUnsolicitedResponseLogged(t *testing.T) {
	var std lockedBuffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&std) // os.Stderr, for the binary
	for _, quiet := range []bool{true, false} {
		args := []string{"mirror", "doctor", "--registry", unsolicitedRegistry(t), "--plain-http", "--retries", "0"}
		if quiet {
			args = append(args, "--quiet")
		}
		_, _, stderr := run(t, args...)
		if got := std.String(); strings.Contains(got, "Unsolicited response") {
			t.Fatalf("quiet=%v: net/http's log went to the standard logger, past the command's logger: %q", quiet, got)
		}
		logged := strings.Contains(stderr, "level=WARN") && strings.Contains(stderr, "Unsolicited response")
		if quiet == logged {
			t.Errorf("quiet=%v: stderr %q; want the unsolicited response as a warning unless --quiet", quiet, stderr)
		}
	}
}
