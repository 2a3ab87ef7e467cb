package mirror_test

import (
	"context"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// farSideErrors runs on the bundle src (a directory or an archive) what
// the far side runs on one, trusting pub: verify, import, push (each
// writing into a registry of their own) and serve; the error of each, by
// its name.
func farSideErrors(t *testing.T, src, pub string) map[string]error {
	t.Helper()
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["verify"] = mirror.Verify(ctx, mirror.VerifyOptions{Envelope: src, Trust: trustKeys(pub), Now: testNow})
	target := testutil.Registry(t)
	_, errs["import"] = mirror.Import(ctx, importOpts(t, src, target, pub))
	_, errs["push"] = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: src, Reference: target + "/stellaops/mirror-bundle",
		Trust: trustKeys(pub), Client: testutil.Client(t), Transfer: transferOpts()})
	b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: src, Trust: trustKeys(pub), Now: testNow})
	if err == nil {
		b.Close()
	}
	errs["serve"] = err
	return errs
}
