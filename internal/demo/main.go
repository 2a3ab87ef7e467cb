// Command demo runs the main job of StellaOps Mirror on built-in defaults,
// with no docker and no internet: it starts a source registry on 127.0.0.1
// holding a small, deterministically generated sample release, then runs
// the stella binary through create, sign (with the dev key, tools/cosign),
// verify, verify-checksums, pack and inspect, imports the bundle into an
// empty registry, and serves it from a plain tar, printing each command and
// its output. It stops everything it started.
//
//	go run ./internal/demo -stella bin/stella
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/remote"
)

func main() {
	stella := flag.String("stella", "bin/stella", "the stella binary to run")
	keep := flag.Bool("keep", false, "keep the working directory")
	flag.Parse()
	if err := run(*stella, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(stella string, keep bool) error {
	ctx := context.Background()
	stella, err := filepath.Abs(stella)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "stella-demo-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Printf("# working directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	source, stop, err := startRegistry()
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("# source registry (in-process, OCI 1.1 referrers API) on %s\n", source)

	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: filepath.Join(work, "docker-config.json")})
	if err != nil {
		return err
	}
	rel, err := sample.Push(ctx, sample.Spec{Registry: source}, func(repo string) (sample.Pusher, error) {
		return client.Repository(source + "/" + repo)
	})
	if err != nil {
		return err
	}
	releaseFile, advisories, err := rel.WriteFiles(work)
	if err != nil {
		return err
	}
	fmt.Printf("# pushed sample release %s: %d images, release file %s\n\n", rel.Spec.Version, len(rel.Images), releaseFile)
	data, _ := os.ReadFile(releaseFile)
	fmt.Println(indent(string(data)))

	devKey, devPub, err := devKeyPair()
	if err != nil {
		return err
	}
	bundleDir := filepath.Join(work, "bundle")
	archive := filepath.Join(work, "stellaops-airgap-"+rel.Spec.Version+".tar.zst")
	steps := [][]string{
		{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", bundleDir, "--plain-http"},
		{"mirror", "sign", filepath.Join(bundleDir, "manifest.json"), "--key", devKey, "--output", filepath.Join(bundleDir, "manifest.dsse")},
		{"mirror", "verify", filepath.Join(bundleDir, "manifest.dsse"), "--key", devPub},
		{"mirror", "verify-checksums", bundleDir, "--key", devPub},
		{"mirror", "pack", bundleDir, "--output", archive},
		{"mirror", "inspect", archive},
	}
	for _, args := range steps {
		if err := runStella(stella, work, args...); err != nil {
			return err
		}
	}

	// The far side: a second, empty registry, the import, and a pull of one
	// image by digest.
	airgap, stopAirgap, err := startRegistry()
	if err != nil {
		return err
	}
	defer stopAirgap()
	fmt.Printf("# air-gap registry (in-process, empty) on %s\n", airgap)
	advisoryDir := filepath.Join(work, "airgap-advisories")
	if err := runStella(stella, work, "mirror", "import", archive, "--registry", airgap, "--plain-http",
		"--key", devPub, "--advisories-dir", advisoryDir); err != nil {
		return err
	}
	if err := pullByDigest(ctx, client, airgap, rel.Images[2], ""); err != nil {
		return err
	}
	fmt.Println()

	// Or no registry at all: serve the bundle straight from a plain tar.
	plain := filepath.Join(work, "stellaops-airgap-"+rel.Spec.Version+".tar")
	if err := runStella(stella, work, "mirror", "pack", bundleDir, "--output", plain); err != nil {
		return err
	}
	if err := demoServe(ctx, stella, work, plain, devPub, client, rel.Images[0]); err != nil {
		return err
	}
	fmt.Println("# demo complete: every command above exited 0")
	return nil
}

// demoServe runs `stella mirror serve` over the plain tar on a free port,
// pulls one image by digest from it, and stops it with SIGINT.
func demoServe(ctx context.Context, stella, work, archive, pub string, client *remote.Client, img sample.Image) error {
	args := []string{"mirror", "serve", archive, "--key", pub, "--addr", "127.0.0.1:0"}
	fmt.Printf("$ stella %s &\n", strings.ReplaceAll(strings.Join(args, " "), work+"/", ""))
	cmd := exec.Command(stella, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+work)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(os.Interrupt)
	// The first line names the URL; the rest is the table of repositories.
	sc := bufio.NewScanner(stdout)
	addr := ""
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(indent(line)[:len(indent(line))-1])
		if i := strings.Index(line, " at http://"); i >= 0 && addr == "" {
			addr = strings.TrimPrefix(line[i:], " at http://")
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	if addr == "" {
		return fmt.Errorf("stella mirror serve did not start")
	}
	go io.Copy(io.Discard, stdout)
	fmt.Println()
	if err := pullByDigest(ctx, client, addr, img, " (from serve)"); err != nil {
		return err
	}
	fmt.Printf("# stop serve (SIGINT)\n\n")
	return nil
}

// pullByDigest pulls one image's manifest by digest from host and checks it
// is the digest the release names.
func pullByDigest(ctx context.Context, client *remote.Client, host string, img sample.Image, from string) error {
	ref := host + "/" + img.Repository + "@" + img.Descriptor.Digest.String()
	fmt.Printf("# pull %s%s\n", ref, from)
	repo, err := client.Repository(ref)
	if err != nil {
		return err
	}
	desc, rc, err := repo.FetchReference(ctx, img.Descriptor.Digest.String())
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	rc.Close()
	if desc.Digest != img.Descriptor.Digest {
		return fmt.Errorf("pull %s: got %s", ref, desc.Digest)
	}
	fmt.Printf("  %s %s (%d bytes): the digest the release names\n", desc.MediaType, desc.Digest, desc.Size)
	return nil
}

func runStella(stella, work string, args ...string) error {
	shown := strings.ReplaceAll(strings.Join(args, " "), work+"/", "")
	fmt.Printf("$ stella %s\n", shown)
	cmd := exec.Command(stella, args...)
	// The dev key's password is public (plan §2.2); never a real key's.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+work, "COSIGN_PASSWORD="+devPassword)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stella %s: %w", shown, err)
	}
	fmt.Println()
	return nil
}

// devPassword is the published password of the dev-only key pair.
const devPassword = "stellaops-dev"

// devKeyPair locates tools/cosign/cosign.dev.key and cosign.pub at the
// module root (the directory holding go.mod, from the working directory up).
func devKeyPair() (key, pub string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	cwd := dir
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			// Relative to the working directory, so the commands shown read
			// as an operator would type them.
			key, _ = filepath.Rel(cwd, filepath.Join(dir, "tools", "cosign", "cosign.dev.key"))
			pub, _ = filepath.Rel(cwd, filepath.Join(dir, "tools", "cosign", "cosign.pub"))
			return key, pub, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("module root (go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// startRegistry serves go-containerregistry's in-process registry, with the
// referrers API, on a free port of 127.0.0.1.
func startRegistry() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	return l.Addr().String(), func() { srv.Close() }, nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
