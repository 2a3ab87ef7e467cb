package keys_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/keys"
)

// A PEM block that does not decode (its base64 damaged, its END line cut
// off) is refused, not skipped: encoding/pem passes over it to the next
// block, so a keyring or a root CA file missing one of its keys read as
// holding one key less, and the signatures of the key lost failed as
// "untrusted" or a threshold "exceeds the distinct keys --key gives".
func TestPEMBlockThatDoesNotDecodeIsRefused(t *testing.T) {
	ctx := context.Background()
	_, _, kp1 := keyPair(t)
	_, _, kp2 := keyPair(t)
	damaged := strings.Replace(string(kp2.PublicPEM), "\n", "\n!", 2)
	cut := string(kp2.PublicPEM[:len(kp2.PublicPEM)-30])
	for name, second := range map[string]string{"bad base64": damaged, "no END line": cut} {
		t.Run("key "+name, func(t *testing.T) {
			for _, data := range []string{string(kp1.PublicPEM) + second, second + string(kp1.PublicPEM)} {
				vs, err := keys.LoadVerifiers(ctx, writeFile(t, []byte(data)))
				if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "does not decode") {
					t.Fatalf("a keyring with a damaged key: %d keys, err = %v, want ErrUsage naming the block", len(vs), err)
				}
			}
		})
	}
	root := testutil.NewRootCA(t, "root")
	other := testutil.NewRootCA(t, "other")
	dir := t.TempDir()
	good := testutil.WritePEM(t, dir, "good.pem", root.Cert)
	otherPEM := testutil.WritePEM(t, dir, "other.pem", other.Cert)
	goodData, _ := os.ReadFile(good)
	otherData, _ := os.ReadFile(otherPEM)
	broken := string(goodData) + strings.Replace(string(otherData), "\n", "\n!", 2)
	if certs, err := keys.ParseCertificates([]byte(broken)); !errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("certificates with a damaged one: %d, err = %v, want ErrMalformed", len(certs), err)
	}
	if _, err := keys.LoadRoots([]string{writeFile(t, []byte(broken))}); !errors.Is(err, errdef.ErrUsage) {
		t.Fatalf("trust roots with a damaged one: err = %v, want ErrUsage", err)
	}
	// Text around the blocks (openssl's "subject=" lines) is not a block.
	withText := "subject=CN = root\n" + string(goodData) + "trailing words\n" + string(otherData)
	if certs, err := keys.ParseCertificates([]byte(withText)); err != nil || len(certs) != 2 {
		t.Fatalf("certificates with text between: %d, %v", len(certs), err)
	}
}
