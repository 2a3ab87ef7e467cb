package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepoAndPlatformFlagCredentialsNotPrinted: a --bundle-repo,
// --repo-prefix or --platform holding credentials (a reference,
// USER:PASSWORD@HOST/REPO, pasted for a repository or a platform; doctor
// --repo too) is
// refused, exit 1, named with all up to its last @ blanked, as a --registry
// or a reference is (found by review). Each was printed whole:
// `--bundle-repo "user:hunter2@reg.internal/b" is not a valid repository
// name`; and create --platform USER:PASSWORD@linux/amd64 was taken for a
// platform, the run failing later on "no manifest for platform
// user:hunter2@linux/amd64".
func TestRepoAndPlatformFlagCredentialsNotPrinted(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "cosign.pub") // never read: refused before
	const digest = "sha256:0995023f729ebd959881551780c86f3407e3be1b8d59f460619088f4f48ee33a"
	for _, secret := range []string{"hunter2", "hun/ter@2"} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"mirror", "import", dir, "--registry", "localhost:5000", "--key", key, "--bundle-repo", "user:" + secret + "@reg.internal/b"},
				`stella: --bundle-repo "***@reg.internal/b" is not a valid repository name: invalid usage`},
			{[]string{"mirror", "import", dir, "--registry", "localhost:5000", "--key", key, "--repo-prefix", "user:" + secret + "@reg.internal/p"},
				`stella: --repo-prefix "***@reg.internal/p": want a repository path such as mirror or site/mirror (lowercase letters and digits; '.', '_' or '-' only between them; no empty, '.' or '..' part): invalid usage`},
			{[]string{"mirror", "inventory", "--registry", "localhost:5000", "--output", filepath.Join(dir, "i.json"), "--bundle-repo", secret + "@b"},
				`stella: --bundle-repo "***@b" is not a valid repository name: invalid usage`},
			{[]string{"mirror", "serve", dir, "--addr", "127.0.0.1:0", "--key", key, "--bundle-repo", "user:" + secret + "@reg.internal/b"},
				`stella: --bundle-repo "***@reg.internal/b" is not a valid repository name: invalid usage`},
			{[]string{"mirror", "serve", dir, "--addr", "127.0.0.1:0", "--key", key, "--repo-prefix", "user:" + secret + "@reg.internal/p"},
				`stella: --repo-prefix "***@reg.internal/p": want a repository path`},
			{[]string{"mirror", "sync", "localhost:1/a:1", "localhost:1/b:1", "--repo-prefix", "user:" + secret + "@reg.internal/p"},
				`stella: --repo-prefix "***@reg.internal/p": want a repository path`},
			{[]string{"mirror", "inventory", "--registry", "localhost:5000", "--output", filepath.Join(dir, "i.json"), "--bundle-repo", "user:" + secret + "@reg.internal/b@" + digest},
				`stella: --bundle-repo "***@reg.internal/b@` + digest + `" is not a valid repository name: invalid usage`},
			{[]string{"mirror", "doctor", "--registry", "localhost:5000", "--repo", "user:" + secret + "@reg.internal/d"},
				`stella: --repo "***@reg.internal/d" is not a valid repository name: invalid usage`},
			{[]string{"mirror", "create", "--images", filepath.Join(dir, "release.yaml"), "--output", filepath.Join(dir, "out"), "--platform", "user:" + secret + "@linux/amd64"},
				`stella: platform "***@linux/amd64" is not os/arch[/variant][:osversion]: invalid usage`},
			{[]string{"mirror", "create", "--images", filepath.Join(dir, "release.yaml"), "--output", filepath.Join(dir, "out"), "--platform", "user:" + secret + "@linux"},
				`stella: platform "***@linux" is not os/arch[/variant][:osversion]: invalid usage`},
		} {
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != ExitInput || strings.Contains(stderr.String(), "hun") || !strings.HasPrefix(stderr.String(), tc.want) {
				t.Errorf("%s: exit %d, stderr %q; want %d, %q…, the password blanked", strings.Join(tc.args[:2], " "), code, stderr.String(), ExitInput, tc.want)
			}
		}
	}
}
