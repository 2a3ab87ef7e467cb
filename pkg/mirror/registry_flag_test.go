package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestRegistryFlagIsHostPort: --registry is HOST[:PORT] for import and
// inventory as for doctor. An operator who writes the registry as a URL
// (http://HOST:PORT, as a browser has it) or with a path was told by
// import 'repository "http://HOST/stellaops/mirror-bundle": invalid
// reference: invalid repository "/HOST"', and a path was taken as a
// prefix of every repository, the bundle's too, so that the inventory and
// the next import's generation check looked elsewhere, where doctor
// refused the same value. Each is now refused before anything is sent,
// naming the value and what to give instead; the registry is untouched.
func TestRegistryFlagIsHostPort(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	for _, tt := range []struct{ value, hint string }{
		{"http://" + host, "no scheme (--plain-http talks plain HTTP to a registry without TLS)"},
		{"https://" + host, "no scheme (--plain-http talks plain HTTP to a registry without TLS)"},
		{host + "/", "no path (import puts the images under a path with --repo-prefix)"},
		{host + "/mirror", "no path (import puts the images under a path with --repo-prefix)"},
		// --registry given no value takes the next flag as it
		// (load.sh bundle.tar --plain-http did so too): it went on to a
		// DNS lookup of "--plain-http", and --plain-http was not set.
		{"--plain-http", "not a flag (--registry took the word after it as its value)"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			want := `--registry "` + tt.value + `": want HOST[:PORT], ` + tt.hint
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: err = %v, want ErrUsage and %q", what, err, want)
				}
			}
			opts := importOpts(t, s.dir, tt.value, s.pub)
			_, err := mirror.Import(ctx, opts)
			check("import", err)
			_, err = mirror.Inventory(ctx, mirror.InventoryOptions{Registry: tt.value, Output: filepath.Join(t.TempDir(), "inventory.json"), Client: client})
			check("inventory", err)
			_, err = mirror.Doctor(ctx, mirror.DoctorOptions{Registry: tt.value, Client: client})
			check("doctor", err)
			if tags := testutil.Tags(t, host); !reflect.DeepEqual(tags, map[string][]string{}) && len(tags) != 0 {
				t.Errorf("the registry holds %v", tags)
			}
		})
	}
}

// TestLoginLogoutHostPort: login and logout take HOST[:PORT], as the
// credentials are saved under it. Given a URL, as docker login takes one,
// login failed as 'invalid reference: invalid registry', and logout said
// "No credentials stored … nothing removed" (exit 0) and left the
// credentials saved for the host in config.json. Both now refuse it,
// naming the value, and config.json is as it was.
func TestLoginLogoutHostPort(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	cfg := testutil.DockerConfig(t, host, "mirror", "s3cret")
	before, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + host
	want := `registry "` + url + `": want HOST[:PORT], no scheme`
	err = mirror.Login(ctx, mirror.LoginOptions{Registry: url, Username: "mirror", Password: "s3cret", Client: client})
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("login: err = %v, want ErrUsage and %q", err, want)
	}
	removed, err := mirror.Logout(ctx, client, url)
	if removed || !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("logout: removed %v, err = %v, want ErrUsage and %q", removed, err, want)
	}
	if after, _ := os.ReadFile(cfg); string(after) != string(before) {
		t.Errorf("config.json changed: %s", after)
	}
}
