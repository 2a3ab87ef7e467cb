// Command demo runs the main job of StellaOps Mirror on built-in defaults,
// with no docker and no internet: it starts a source registry on 127.0.0.1
// holding a small, deterministically generated sample release, then runs
// the stella binary through create, pack and inspect, printing each
// command and its output. It stops everything it started.
//
//	go run ./internal/demo -stella bin/stella
package main

import (
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

	bundleDir := filepath.Join(work, "bundle")
	archive := filepath.Join(work, "stellaops-airgap-"+rel.Spec.Version+".tar.zst")
	steps := [][]string{
		{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", bundleDir, "--plain-http"},
		{"mirror", "pack", bundleDir, "--output", archive},
		{"mirror", "inspect", archive},
	}
	for _, args := range steps {
		if err := runStella(stella, work, args...); err != nil {
			return err
		}
	}
	fmt.Println("# demo complete: every command above exited 0")
	return nil
}

func runStella(stella, work string, args ...string) error {
	shown := strings.ReplaceAll(strings.Join(args, " "), work+"/", "")
	fmt.Printf("$ stella %s\n", shown)
	cmd := exec.Command(stella, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+work)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stella %s: %w", shown, err)
	}
	fmt.Println()
	return nil
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
