package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ensureDebian installs a Debian package for a peer tool when its command
// is missing (peers are installed by the benchmark, never assumed).
func ensureDebian(command, pkg string) (string, bool) {
	if p, err := exec.LookPath(command); err == nil {
		return p, true
	}
	args := []string{"apt-get", "install", "-y", "-q", pkg}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: could not install %s (%v); its scenarios are skipped\n", pkg, err)
		return "", false
	}
	p, err := exec.LookPath(command)
	return p, err == nil
}

// peerExports are the other tools' pipelines from the registry onto media.
func (e *env) peerExports() []scenario {
	var out []scenario
	if crane, err := exec.LookPath("crane"); err == nil {
		layout := filepath.Join(e.work, "crane-layout")
		out = append(out, scenario{
			tool: "crane pull --format oci + tar", bytes: e.unique, peer: true,
			setup: func(int) error { os.RemoveAll(layout); os.Remove(e.archive(".crane.tar")); return nil },
			steps: func(int) [][]string {
				args := []string{crane, "pull", "--insecure", "--format", "oci"}
				for _, img := range e.rel.Images {
					args = append(args, e.rel.Ref(img))
				}
				return [][]string{append(args, layout), {"tar", "-cf", e.archive(".crane.tar"), "-C", layout, "."}}
			},
			disk:    func(int) int64 { return dirSize(layout) },
			outputs: []string{layout, e.archive(".crane.tar")},
		})
	}
	if skopeo, ok := ensureDebian("skopeo", "skopeo"); ok {
		layout := filepath.Join(e.work, "skopeo-layout")
		out = append(out, scenario{
			tool: "skopeo copy --all (per image) + tar", bytes: e.unique, peer: true,
			setup: func(int) error { os.RemoveAll(layout); os.Remove(e.archive(".skopeo.tar")); return nil },
			steps: func(int) [][]string {
				var steps [][]string
				for _, img := range e.rel.Images {
					steps = append(steps, []string{skopeo, "copy", "--all", "--src-tls-verify=false", "docker://" + e.rel.Ref(img), "oci:" + layout + ":" + img.Name})
				}
				return append(steps, []string{"tar", "-cf", e.archive(".skopeo.tar"), "-C", layout, "."})
			},
			disk:    func(int) int64 { return dirSize(layout) },
			outputs: []string{layout, e.archive(".skopeo.tar")},
		})
	}
	return out
}

// peerImports are the other tools' pipelines from media into a registry;
// target returns the fresh registry of the run, prepare readies it.
func (e *env) peerImports(target func() string, prepare func(int) error) []scenario {
	var out []scenario
	if oras, err := exec.LookPath("oras"); err == nil {
		for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
			extracted := filepath.Join(e.work, "extracted")
			untar := []string{"tar", "-xf", e.archive(".signed" + suffix), "-C", extracted}
			switch suffix {
			case ".tar.zst":
				if _, ok := ensureDebian("zstd", "zstd"); !ok {
					continue
				}
				untar = []string{"tar", "--zstd", "-xf", e.archive(".signed" + suffix), "-C", extracted}
			case ".tar.gz":
				untar = []string{"tar", "-xzf", e.archive(".signed" + suffix), "-C", extracted}
			}
			out = append(out, scenario{
				tool: "tar x " + suffix + " + oras cp --from-oci-layout (per image)", bytes: e.unique, peer: true,
				setup: func(run int) error { os.RemoveAll(extracted); os.MkdirAll(extracted, 0o755); return prepare(run) },
				steps: func(int) [][]string {
					steps := [][]string{untar}
					for _, img := range e.rel.Images {
						steps = append(steps, []string{oras, "cp", "-r", "--from-oci-layout", extracted + "@" + img.Descriptor.Digest.String(),
							"--to-plain-http", target() + "/" + img.Repository + ":" + e.rel.Spec.Version})
					}
					return steps
				},
				disk:    func(int) int64 { return dirSize(extracted) },
				outputs: []string{extracted},
			})
		}
	}
	if skopeo, ok := ensureDebian("skopeo", "skopeo"); ok {
		out = append(out, scenario{
			tool: "skopeo copy --all oci-archive: (per image)", bytes: e.unique, peer: true, setup: prepare,
			steps: func(int) [][]string {
				var steps [][]string
				for _, img := range e.rel.Images {
					steps = append(steps, []string{skopeo, "copy", "--all", "--dest-tls-verify=false",
						"oci-archive:" + e.archive(".signed.tar") + ":" + img.Repository + ":" + e.rel.Spec.Version,
						"docker://" + target() + "/" + img.Repository + ":" + e.rel.Spec.Version})
				}
				return steps
			},
		})
	}
	return out
}

// syncScenarios: a bundle from one registry to another, no media.
func (e *env) syncScenarios() []scenario {
	var out []scenario
	var source, target string
	var stopTarget func()
	pub := filepath.Join(e.work, "bench.pub")
	ready := false
	prepare := func(int) error {
		if !ready {
			if err := e.signedArchives(filepath.Join(e.work, "bench.key"), pub); err != nil {
				return err
			}
			var err error
			if source, _, err = e.registry("sync-source"); err != nil {
				return err
			}
			if _, err := timed([]string{e.stella, "mirror", "push", e.archive(".signed.tar"), source + "/stellaops/mirror-bundle", "--plain-http", "--quiet"}, e.childEnv); err != nil {
				return err
			}
			ready = true
		}
		if stopTarget != nil {
			stopTarget()
		}
		var err error
		target, stopTarget, err = e.registry("sync-target")
		return err
	}
	ref := func() string { return source + "/stellaops/mirror-bundle:" + e.rel.Spec.Version }
	out = append(out, e.syncLimit(func() string { return source }, func() string { return target }, "stellaops/mirror-bundle", prepare))
	out = append(out, e.ingestLimit(pushGroup, func() string { return target }, prepare))
	out = append(out, scenario{
		tool: "stella mirror sync", bytes: e.unique, setup: prepare,
		steps: func(int) [][]string {
			return [][]string{{e.stella, "mirror", "sync", ref(), target + "/stellaops/mirror-bundle", "--plain-http", "--key", pub, "--quiet"}}
		},
	})
	out = append(out, scenario{
		group: pushGroup, tool: "stella mirror push .tar", bytes: e.unique, setup: prepare,
		steps: func(int) [][]string {
			return [][]string{{e.stella, "mirror", "push", e.archive(".signed.tar"), target + "/stellaops/mirror-bundle", "--plain-http", "--quiet"}}
		},
	})
	if oras, err := exec.LookPath("oras"); err == nil {
		extracted := filepath.Join(e.work, "push-layout")
		out = append(out, scenario{
			group: pushGroup, tool: "tar x + oras cp -r --from-oci-layout", bytes: e.unique, peer: true,
			setup: func(run int) error { os.RemoveAll(extracted); os.MkdirAll(extracted, 0o755); return prepare(run) },
			steps: func(int) [][]string {
				return [][]string{
					{"tar", "-xf", e.archive(".signed.tar"), "-C", extracted},
					{oras, "cp", "-r", "--from-oci-layout", extracted + ":" + e.rel.Spec.Version, "--to-plain-http", target + "/stellaops/mirror-bundle:" + e.rel.Spec.Version},
				}
			},
			disk:    func(int) int64 { return dirSize(extracted) },
			outputs: []string{extracted},
		})
		out = append(out, scenario{
			tool: "oras cp -r", bytes: e.unique, peer: true, setup: prepare,
			steps: func(int) [][]string {
				return [][]string{{oras, "cp", "-r", "--from-plain-http", "--to-plain-http", ref(), target + "/stellaops/mirror-bundle:" + e.rel.Spec.Version}}
			},
		})
	}
	return out
}

// pushGroup is the table push and its peer are reported in.
const pushGroup = "push (media -> registry)"
