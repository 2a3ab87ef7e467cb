package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A registry binary that exits before it answers (a port taken, a
// configuration it cannot read: the registry v2.8 given v3's token
// settings) fails the start with its log. The start used to wait forever
// for an exit it had already seen.
func TestStartDistributionOfARegistryThatExits(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	if _, _, err := StartDistribution(bin, t.TempDir(), DistributionOptions{}); err == nil {
		t.Fatal("started a registry that exited")
	}
}

// The registry v2.8 lists in its catalog a repository that holds blobs
// and no tag, and answers 404 to its tag list (v3 answers an empty list):
// Tags reports it with no tags, the state a failed import leaves. It
// failed the test instead.
func TestTagsOfARepositoryWithBlobsOnly(t *testing.T) {
	host := DistributionV2(t)
	repo, err := Client(t).Repository(host + "/only/blobs")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a blob and no manifest")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := repo.Blobs().Push(context.Background(), desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if tags, ok := Tags(t, host)["only/blobs"]; !ok || len(tags) != 0 {
		t.Fatalf("only/blobs: tags %v (listed: %v), want none, listed", tags, ok)
	}
}
