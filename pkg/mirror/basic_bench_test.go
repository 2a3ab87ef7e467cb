package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// BenchmarkBasicAuthPush measures a push of the sample (3 layers an image:
// 30 blobs) to a distribution registry with htpasswd auth at bcrypt's
// default cost, as `htpasswd -B` makes it: the registry checks the hash on
// every request that carries credentials, so requests/op and 401s/op
// decide the time.
func BenchmarkBasicAuthPush(b *testing.B) {
	s := newSignedSample(b, sample.Spec{Layers: 3}, 0)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	htpasswd := filepath.Join(b.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("mirror:"+string(hash)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	var requests, refused int
	for b.Loop() {
		b.StopTimer()
		log := &requestLog{blobHEAD: map[string]int{}}
		host := testutil.ProxyWrapped(b, testutil.DistributionWith(b, testutil.DistributionOptions{Htpasswd: htpasswd}), log.wrap)
		client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: testutil.DockerConfig(b, host, "mirror", "s3cret")})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client}); err != nil {
			b.Fatal(err)
		}
		log.mu.Lock()
		requests, refused = requests+log.total, refused+len(log.refused)
		log.mu.Unlock()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(refused)/float64(b.N), "401s/op")
}
