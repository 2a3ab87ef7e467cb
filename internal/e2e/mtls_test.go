package e2e

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestMutualTLSDistribution runs the binary against the CNCF distribution
// registry configured for mutual TLS (http.tls.clientcas). import without
// a client certificate, or with one of another CA, exits 1 with one line
// naming --cert-file and writes nothing; with --cert-file and --key-file
// it imports, the images are there by digest, and create reads them back
// from it, doctor says the certificate was presented and accepted. No
// output holds the key.
func TestMutualTLSDistribution(t *testing.T) {
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testutil.NewRootCA(t, "Registry CA"), testutil.NewRootCA(t, "Client CA"), testutil.NewRootCA(t, "Other CA")
	serverCert, serverKey := serverCA.ServerCert(t, dir)
	caFile := testutil.WritePEM(t, dir, "registry-ca.pem", serverCA.Cert)
	clientCAs := testutil.WritePEM(t, dir, "client-ca.pem", clientCA.Cert)
	certFile, keyFile := clientCA.ClientCert(t, dir, "client")
	wrongCert, wrongKey := otherCA.ClientCert(t, dir, "wrong")
	host := testutil.DistributionWith(t, testutil.DistributionOptions{TLSCert: serverCert, TLSKey: serverKey, ClientCAs: []string{clientCAs}})

	var outputs []string
	check := func(name string, want int, says string, args ...string) result {
		t.Helper()
		r := stella(t, nil, append([]string{"mirror"}, args...)...)
		outputs = append(outputs, r.stdout, r.stderr)
		if r.code != want || !strings.Contains(r.stderr+r.stdout, says) {
			t.Fatalf("%s: exit %d, want %d saying %q\nstdout: %s\nstderr: %s", name, r.code, want, says, r.stdout, r.stderr)
		}
		if want != 0 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: not one line:\n%s", name, r.stderr)
		}
		return r
	}
	imp := []string{"import", archive, "--registry", host, "--key", pub, "--ca-file", caFile, "--quiet"}
	check("import, no client certificate", 1, "the registry demands a client certificate (mutual TLS) and none was given (TLS alert \"certificate required\"): give --cert-file and --key-file", imp...)
	check("import, another CA's certificate", 1, "which the client certificate "+wrongCert+" is not (nor its chain), so it was not presented",
		append(imp, "--cert-file", wrongCert, "--key-file", wrongKey)...)
	check("import, key of another certificate", 1, "--key-file "+wrongKey+" is not the private key of the certificate in --cert-file "+certFile,
		append(imp, "--cert-file", certFile, "--key-file", wrongKey)...)

	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o600)
	client, err := remote.New(remote.Options{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if tags := testutil.TagsWith(t, client, host); len(tags) != 0 {
		t.Fatalf("a refused import left %v", tags)
	}

	withCert := []string{"--ca-file", caFile, "--cert-file", certFile, "--key-file", keyFile}
	check("import", 0, "", append(imp, withCert[2:]...)...)
	var refs []string
	for _, img := range rel.Images {
		repo, err := client.Repository(host + "/" + img.Repository)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := repo.Resolve(t.Context(), rel.Spec.Version)
		if err != nil || desc.Digest != img.Descriptor.Digest {
			t.Errorf("%s:%s = %s (%v), want %s", img.Repository, rel.Spec.Version, desc.Digest, err, img.Descriptor.Digest)
		}
		refs = append(refs, host+"/"+img.Repository+"@"+img.Descriptor.Digest.String())
	}

	list := filepath.Join(dir, "images.txt")
	os.WriteFile(list, []byte(strings.Join(refs, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "again")
	create := []string{"create", "--images", list, "--release-version", rel.Spec.Version, "--output", out, "--quiet"}
	check("create, no client certificate", 1, "give --cert-file and --key-file", append(create, "--ca-file", caFile)...)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused create left %s (%v)", out, err)
	}
	check("create", 0, "", append(create, withCert...)...)
	manifest, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	for _, img := range rel.Images {
		if !strings.Contains(string(manifest), img.Descriptor.Digest.String()) {
			t.Errorf("the bundle created from %s lacks %s", host, img.Descriptor.Digest)
		}
	}

	check("doctor", 0, "the registry asked for a client certificate; "+certFile+", for \"client\" issued by \"Client CA\"",
		append([]string{"doctor", "--registry", host}, withCert...)...)
	check("doctor, no client certificate", 1, "FAIL  client-cert", "doctor", "--registry", host, "--ca-file", caFile)

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
