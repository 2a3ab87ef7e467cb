package testutil

import (
	"os/exec"
	"testing"
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
