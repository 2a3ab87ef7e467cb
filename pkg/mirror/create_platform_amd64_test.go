package mirror_test

import "testing"

// TestCreatePlatformAmd64Variant: an amd64 request naming its variant
// takes an index's manifests as containerd's platform matcher ranks them:
// linux/amd64/v3 takes v3, else v2, else v1 (plain amd64, as is amd64/v1),
// the closest first, since a v3 machine runs v2 and v1 code; never a
// higher variant (a v2 machine may not run v3 code), nor another
// architecture (386). Before, a request naming a variant took that
// variant alone, and linux/amd64/v1 took v2 or v3 as a request naming none.
func TestCreatePlatformAmd64Variant(t *testing.T) {
	checkPlatformCases(t, "app/amd64", []platformCase{
		{index: []string{"linux/amd64/v2", "linux/amd64", "linux/arm64"}, platform: "linux/amd64/v3", want: "linux/amd64/v2"},
		{index: []string{"linux/amd64", "linux/amd64/v2", "linux/amd64/v3"}, platform: "linux/amd64/v3", want: "linux/amd64/v3"},
		{index: []string{"linux/amd64", "linux/amd64/v4"}, platform: "linux/amd64/v3", want: "linux/amd64"},
		{index: []string{"linux/amd64/v1", "linux/arm64"}, platform: "linux/amd64/v3", want: "linux/amd64/v1"},
		{index: []string{"linux/amd64/v2", "linux/amd64/v3"}, platform: "linux/amd64/v4", want: "linux/amd64/v3"},
		{index: []string{"linux/amd64/v2", "linux/amd64/v3"}, platform: "linux/amd64/v2", want: "linux/amd64/v2"},
		{index: []string{"linux/amd64", "linux/amd64/v2"}, platform: "linux/amd64/v1", want: "linux/amd64"},
		{index: []string{"linux/amd64", "linux/amd64/v1"}, platform: "linux/amd64/v3", refused: []string{"linux/amd64", "linux/amd64/v1"}},
		{index: []string{"linux/amd64/v3", "linux/arm64"}, platform: "linux/amd64/v2", notFound: true, says: "no manifest for platform linux/amd64/v2:"},
		{index: []string{"linux/amd64/v2", "linux/amd64/v3"}, platform: "linux/amd64/v1", notFound: true, says: "no manifest for platform linux/amd64/v1:"},
		{index: []string{"linux/386", "linux/arm64"}, platform: "linux/amd64/v2", notFound: true, says: "no manifest for platform linux/amd64/v2:"},
	})
}
