package mirror_test

import "testing"

// TestCreatePlatformNames: --platform takes the names operators type, as
// containerd's platforms.Normalize (docker --platform) reads them: the os
// in any case, uname -m's x86_64 and aarch64, Debian's armhf and armel,
// i386, macos, and an arm variant without its v. An index entry spelled
// so is read alike (containerd normalises both sides), and a refusal names
// the platform in its normal form. Before, each found nothing: "Linux" is
// not "linux", nor "x86_64" "amd64".
func TestCreatePlatformNames(t *testing.T) {
	all := []string{"linux/amd64", "linux/arm64", "linux/arm/v6", "linux/arm/v7", "linux/386", "darwin/arm64"}
	checkPlatformCases(t, "app/names", []platformCase{
		{index: all, platform: "Linux/amd64", want: "linux/amd64"},
		{index: all, platform: "LINUX/AMD64", want: "linux/amd64"},
		{index: all, platform: "linux/x86_64", want: "linux/amd64"},
		{index: all, platform: "linux/x86-64", want: "linux/amd64"},
		{index: all, platform: "linux/aarch64", want: "linux/arm64"},
		{index: all, platform: "linux/armhf", want: "linux/arm/v7"},
		{index: all, platform: "linux/armel", want: "linux/arm/v6"},
		{index: all, platform: "linux/arm/6", want: "linux/arm/v6"},
		{index: all, platform: "linux/ARM/V6", want: "linux/arm/v6"},
		{index: all, platform: "linux/i386", want: "linux/386"},
		{index: all, platform: "macos/arm64", want: "darwin/arm64"},
		{index: all, platform: "Linux/s390x", notFound: true, says: "no manifest for platform linux/s390x:"},
		{index: []string{"Linux/x86_64", "linux/aarch64"}, platform: "linux/amd64", want: "Linux/x86_64"},
		{index: []string{"linux/armhf", "linux/armel"}, platform: "linux/arm/v7", want: "linux/armhf"},
		{index: []string{"linux/amd64", "linux/x86_64"}, platform: "linux/amd64", refused: []string{"linux/amd64", "linux/x86_64"}},
	})
}
