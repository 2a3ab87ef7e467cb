package cli

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// A registry behind mutual TLS: create reads from it and import writes
// into it with --cert-file and --key-file, and the images are there by
// digest. Without a client certificate, or with one of a CA the registry
// does not trust, each fails with one line naming --cert-file (exit 1)
// and writes nothing; a key that is not the certificate's is a usage
// error naming the key file. No output holds the key. stella had no
// client certificate to present: --cert-file was an unknown flag.
func TestMutualTLSCreateAndImport(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testutil.NewRootCA(t, "Registry CA"), testutil.NewRootCA(t, "Client CA"), testutil.NewRootCA(t, "Other CA")
	caFile := testutil.WritePEM(t, dir, "registry-ca.pem", serverCA.Cert)
	certFile, keyFile := clientCA.ClientCert(t, dir, "client")
	wrongCert, wrongKey := otherCA.ClientCert(t, dir, "wrong")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	tls := []string{"--ca-file", caFile, "--registry-config", cfg}
	withCert := append([]string{"--cert-file", certFile, "--key-file", keyFile}, tls...)

	src := testutil.RegistryMTLS(t, serverCA, clientCA, 0)
	rel, releaseFile, advisories := testutil.PushSample(t, src.PlainHost, sample.Spec{})
	// The release file names the registry through its mutual-TLS side.
	data, _ := os.ReadFile(releaseFile)
	os.WriteFile(releaseFile, []byte(strings.ReplaceAll(string(data), src.PlainHost, src.Host)), 0o644)

	var outputs []string
	check := func(name string, args []string, want int, says ...string) {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"mirror"}, args...)...)
		outputs = append(outputs, stdout, stderr)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s%s", name, code, want, stdout, stderr)
		}
		for _, s := range says {
			if !strings.Contains(stderr, s) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("%s: stderr does not say %q in one line:\n%s", name, s, stderr)
			}
		}
	}
	out := filepath.Join(dir, "bundle")
	create := []string{"create", "--images", releaseFile, "--advisories", advisories, "--output", out, "--quiet"}
	check("create, no client certificate", append(create, tls...), ExitInput,
		"the registry demands a client certificate (mutual TLS) and none was given", "--cert-file and --key-file")
	check("create, client certificate of another CA", append(create, append([]string{"--cert-file", wrongCert, "--key-file", wrongKey}, tls...)...), ExitInput,
		"which the client certificate "+wrongCert+" is not (nor its chain), so it was not presented")
	check("create, key of another certificate", append(create, append([]string{"--cert-file", certFile, "--key-file", wrongKey}, tls...)...), ExitInput,
		"--key-file "+wrongKey+" is not the private key of the certificate in --cert-file "+certFile)
	check("create, certificate without key", append(create, append([]string{"--cert-file", certFile}, tls...)...), ExitInput,
		"--cert-file "+certFile+" needs --key-file")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed create left %s (%v)", out, err)
	}
	check("create", append(create, withCert...), ExitOK)
	signed, pub := signBundle(t, out)

	dst := testutil.RegistryMTLS(t, serverCA, clientCA, 0)
	imp := []string{"import", signed, "--registry", dst.Host, "--key", pub, "--quiet"}
	check("import, no client certificate", append(imp, tls...), ExitInput, "the registry demands a client certificate", "--cert-file and --key-file")
	check("import, client certificate of another CA", append(imp, append([]string{"--cert-file", wrongCert, "--key-file", wrongKey}, tls...)...), ExitInput,
		"which the client certificate "+wrongCert+" is not (nor its chain), so it was not presented")
	if tags := testutil.Tags(t, dst.PlainHost); len(tags) != 0 {
		t.Fatalf("a failed import left %v", tags)
	}
	check("import", append(imp, withCert...), ExitOK)
	client := testutil.Client(t)
	for _, img := range rel.Images {
		repo, err := client.Repository(dst.PlainHost + "/" + img.Repository)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := repo.Resolve(t.Context(), rel.Spec.Version)
		if err != nil || desc.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s = %s (%v), want %s", img.Repository, rel.Spec.Version, desc.Digest, err, img.Descriptor.Digest)
		}
	}

	for _, f := range []string{keyFile, wrongKey} {
		data, _ := os.ReadFile(f)
		block, _ := pem.Decode(data)
		body := strings.Split(strings.TrimSpace(string(data)), "\n")[1]
		for _, o := range outputs {
			if strings.Contains(o, body) || strings.Contains(o, string(block.Bytes[:16])) || strings.Contains(o, "PRIVATE KEY") {
				t.Errorf("key material of %s in an output:\n%s", f, o)
			}
		}
	}
}

// signBundle signs the bundle directory dir with a key pair keygen makes,
// and returns it and the public key.
func signBundle(t *testing.T, dir string) (signed, pub string) {
	t.Helper()
	keyDir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "x")
	if code, _, stderr := run(t, "mirror", "keygen", "--output-key-prefix", filepath.Join(keyDir, "a")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", filepath.Join(keyDir, "a.key"), "--output", filepath.Join(dir, "manifest.dsse")); code != 0 {
		t.Fatal(stderr)
	}
	return dir, filepath.Join(keyDir, "a.pub")
}

// sync between two registries behind mutual TLS that demand certificates
// of different CAs: --certs-dir gives each its own, as docker's certs.d
// does (DIR/HOST[:PORT]/{ca.crt,client.cert,client.key}). One --cert-file
// for both sides is refused by one of them, naming the file.
func TestSyncBetweenMutualTLSRegistriesWithCertsDir(t *testing.T) {
	dir := t.TempDir()
	serverA, clientA := testutil.NewRootCA(t, "Registry A CA"), testutil.NewRootCA(t, "Client A CA")
	serverB, clientB := testutil.NewRootCA(t, "Registry B CA"), testutil.NewRootCA(t, "Client B CA")
	a := testutil.RegistryMTLS(t, serverA, clientA, 0)
	b := testutil.RegistryMTLS(t, serverB, clientB, 0)
	certsDir := filepath.Join(dir, "certs.d")
	for _, side := range []struct {
		host               string
		serverCA, clientCA *testutil.CA
	}{{a.Host, serverA, clientA}, {b.Host, serverB, clientB}} {
		hostDir := filepath.Join(certsDir, side.host)
		os.MkdirAll(hostDir, 0o700)
		testutil.WritePEM(t, hostDir, "ca.crt", side.serverCA.Cert)
		cert, key := side.clientCA.ClientCert(t, hostDir, "client")
		os.Rename(cert, filepath.Join(hostDir, "client.cert"))
		os.Rename(key, filepath.Join(hostDir, "client.key"))
	}
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	signed, pub := signBundle(t, testBundle(t))
	flags := []string{"--certs-dir", certsDir, "--registry-config", cfg, "--quiet"}
	src, dst := a.Host+"/stellaops/mirror-bundle:2025.10.0", b.Host+"/stellaops/mirror-bundle"
	if code, stdout, stderr := run(t, append([]string{"mirror", "push", signed, src, "--key", pub}, flags...)...); code != 0 {
		t.Fatalf("push: exit %d\n%s%s", code, stdout, stderr)
	}

	// One pair for both sides: B refuses A's client certificate.
	certA := filepath.Join(certsDir, a.Host, "client.cert")
	caBoth := testutil.WritePEM(t, dir, "both.pem", serverA.Cert, serverB.Cert)
	code, _, stderr := run(t, "mirror", "sync", src, dst, "--key", pub, "--ca-file", caBoth, "--cert-file", certA,
		"--key-file", filepath.Join(certsDir, a.Host, "client.key"), "--registry-config", cfg, "--quiet")
	if code != ExitInput || !strings.Contains(stderr, b.Host) || !strings.Contains(stderr, "which the client certificate "+certA+" is not") {
		t.Fatalf("sync with one pair: exit %d\n%s", code, stderr)
	}
	if tags := testutil.Tags(t, b.PlainHost); len(tags) != 0 {
		t.Fatalf("a refused sync left %v", tags)
	}

	code, stdout, stderr := run(t, append([]string{"mirror", "sync", src, dst, "--key", pub}, flags...)...)
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, stdout, stderr)
	}
	client := testutil.Client(t)
	want, err := client.Repository(a.PlainHost + "/stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Repository(b.PlainHost + "/stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	wantDesc, err := want.Resolve(t.Context(), "2025.10.0")
	if err != nil {
		t.Fatal(err)
	}
	gotDesc, err := got.Resolve(t.Context(), "2025.10.0")
	if err != nil || gotDesc.Digest != wantDesc.Digest {
		t.Fatalf("%s:2025.10.0 = %s (%v), want %s as in %s", dst, gotDesc.Digest, err, wantDesc.Digest, src)
	}
}
