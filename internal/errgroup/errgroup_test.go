package errgroup_test

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/errgroup"
	"github.com/stellaops/mirror/pkg/errdef"
)

// boom is a function with a bug: it panics.
func boom() error { panic("test: boom") }

// wantPanic checks that err is the recovered panic of boom: an
// *errdef.Panic wrapping errdef.ErrInternal, with boom's stack.
func wantPanic(t *testing.T, name string, err error) {
	t.Helper()
	var p *errdef.Panic
	if !errors.Is(err, errdef.ErrInternal) || !errors.As(err, &p) {
		t.Fatalf("%s: %v; want an *errdef.Panic", name, err)
	}
	if err.Error() != "internal error: panic: test: boom" || !strings.Contains(string(p.Stack), "errgroup_test.boom") {
		t.Errorf("%s: %q, stack:\n%s\nwant the panic of boom and its stack", name, err, p.Stack)
	}
}

// TestPanicIsWaitsError: a panic of a function passed to Go or TryGo, of a
// zero Group or one of WithContext, limited or not, is the error Wait
// returns, with the stack of the goroutine that panicked, and cancels
// WithContext's Context; x/sync's Group let it end the process with exit
// code 2, a digest mismatch's.
func TestPanicIsWaitsError(t *testing.T) {
	var zero errgroup.Group
	zero.Go(boom)
	wantPanic(t, "zero Group", zero.Wait())

	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(2)
	g.Go(func() error { return nil })
	g.Go(boom)
	g.Go(func() error { <-ctx.Done(); return nil }) // ended by the panic
	wantPanic(t, "WithContext", g.Wait())
	if context.Cause(ctx) == nil {
		t.Error("WithContext: the Context is not canceled")
	}

	var try errgroup.Group
	if !try.TryGo(boom) {
		t.Fatal("TryGo of a Group with no limit: not started")
	}
	wantPanic(t, "TryGo", try.Wait())
}

// TestFirstErrorStands: as x/sync's Wait, Wait returns the first error,
// a panic after it included: a digest mismatch found first is still told
// as one (exit 2), not as a bug.
func TestFirstErrorStands(t *testing.T) {
	first := errors.New("first")
	g, ctx := errgroup.WithContext(context.Background())
	g.Go(func() error { return first })
	g.Go(func() error { <-ctx.Done(); return boom() })
	if err := g.Wait(); err != first {
		t.Errorf("Wait: %v; want the first error", err)
	}
}

// TestNoDirectErrgroup: no file of the program starts goroutines through
// golang.org/x/sync/errgroup but this package, whose Group recovers their
// panics.
func TestNoDirectErrgroup(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == filepath.Join(root, "internal", "errgroup") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "golang.org/x/sync/errgroup" {
				found = append(found, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("these import golang.org/x/sync/errgroup, whose goroutines' panics end the process with exit code 2; import github.com/stellaops/mirror/internal/errgroup instead:\n%s", strings.Join(found, "\n"))
	}
}
