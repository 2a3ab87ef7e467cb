package remote_test

import (
	"bytes"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// TestConnectionMemory opens 128 connections to one host at once, as a
// run at --concurrency 64 does (its uploads, the blob checks asked ahead
// beside them, the mounts), and weighs the heap the client keeps for each
// while they wait in its pool: 16 KiB each, half of it net/http's 4 KiB
// read and 4 KiB write buffers, which hold only a request's or an
// answer's head (--concurrency 256 held 540 connections at once); 10 KiB
// with buffers of 1 KiB.
func TestConnectionMemory(t *testing.T) {
	const n = 128
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	arrived, want := 0, 1
	release := make(chan struct{})
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	// A server of its own, holding little per connection, so that the
	// heap weighed is the client's: every request of the wave waits for
	// the others, so that each holds a connection of its own.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				var head []byte
				b := make([]byte, 256)
				for {
					k, err := c.Read(b)
					if err != nil {
						return
					}
					head = append(head, b[:k]...)
					if !bytes.Contains(head, []byte("\r\n\r\n")) {
						continue
					}
					head = head[:0]
					mu.Lock()
					arrived++
					if arrived == want {
						close(release)
					}
					wait := release
					mu.Unlock()
					<-wait
					if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	client, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, Connections: n})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/v2/"
	// The first request makes what every host makes once (its
	// transport) and its first connection, outside the weighing.
	first := get(t, client, url)
	first.Body.Close()
	mu.Lock()
	arrived, want, release = 0, n, make(chan struct{})
	mu.Unlock()
	before := heap()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := get(t, client, url)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	after := heap()
	per := (int64(after) - int64(before)) / (n - 1)
	t.Logf("%d connections: %d bytes of heap each", n, per)
	if per > 12<<10 {
		t.Errorf("%d idle connections to one host hold %d bytes of heap each; want at most 12 KiB", n, per)
	}
}

// heap is the heap in use after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
