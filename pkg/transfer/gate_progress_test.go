package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// progressLog records the Start and Done a Progress is told.
type progressLog struct {
	mu     sync.Mutex
	events []string
}

func (p *progressLog) Start(desc ocispec.Descriptor) { p.add("start") }
func (p *progressLog) Add(ocispec.Descriptor, int64) {}
func (p *progressLog) Done(desc ocispec.Descriptor, err error) {
	p.add(fmt.Sprintf("done %v", err))
}

func (p *progressLog) add(e string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *progressLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.events
	p.events = nil
	return e
}

// An upload made while the run's writes wait for a check (the generation
// check: remote.HoldWrites) is told started only once they may go. One the
// check refuses was told started, then done with the check's error, though
// it never went: a caller's progress showed an upload of a bundle that was
// refused. Now it is told nothing, and fails with the check's error.
func TestUploadToldOnlyPastTheWriteGate(t *testing.T) {
	host := testutil.Registry(t)
	client := testutil.Client(t)
	refusal := errors.New("refused by the check")
	seed := uint64(17)
	for name, push := range map[string]func(ctx context.Context, u *transfer.Uploader, data []byte) error{
		"Push": func(ctx context.Context, u *transfer.Uploader, data []byte) error {
			return u.Push(ctx, blobDesc(data), bytes.NewReader(data))
		},
		"PushAt": func(ctx context.Context, u *transfer.Uploader, data []byte) error {
			return u.PushAt(ctx, blobDesc(data), bytes.NewReader(data))
		},
	} {
		t.Run(name, func(t *testing.T) {
			name := host + "/stellaops/gated-" + strings.ToLower(name)
			repo, err := client.UploadRepository(name)
			if err != nil {
				t.Fatal(err)
			}
			progress := &progressLog{}
			u := &transfer.Uploader{Repo: repo, Backoff: time.Millisecond, Attempts: 2, Progress: progress}
			seed++ // blobs of their own: the registry shares blobs across repositories
			data := randomBytes(1<<20+3, seed)
			refused := remote.NewWriteGate()
			refused.Open(refusal)
			if err := push(remote.HoldWrites(t.Context(), refused), u, data); !errors.Is(err, refusal) {
				t.Fatalf("upload at a refusing gate: %v, want %v", err, refusal)
			}
			if got := progress.take(); len(got) != 0 {
				t.Errorf("upload refused at the gate was told %v, want nothing", got)
			}
			r, _ := client.Repository(name)
			if ok, err := r.Exists(t.Context(), blobDesc(data)); err != nil || ok {
				t.Fatalf("blob refused at the gate is in the registry: %v %v", ok, err)
			}
			open := remote.NewWriteGate()
			open.Open(nil)
			if err := push(remote.HoldWrites(t.Context(), open), u, data); err != nil {
				t.Fatalf("upload past an open gate: %v", err)
			}
			if got, want := progress.take(), []string{"start", "done <nil>"}; !equalStrings(got, want) {
				t.Errorf("upload past an open gate was told %v, want %v", got, want)
			}
			if ok, err := r.Exists(t.Context(), blobDesc(data)); err != nil || !ok {
				t.Fatalf("blob uploaded past the gate is not in the registry: %v %v", ok, err)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}
