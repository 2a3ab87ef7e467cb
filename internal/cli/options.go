package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
	"github.com/stellaops/mirror/pkg/transfer"
)

// app carries the process's streams and the options every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	global         globalOptions
	// stdLogRestore puts the standard logger back as routeStdLog found
	// it; nil until then.
	stdLogRestore func()
	// sidePlainHosts are, for a command that has them (sync's and import
	// REF's --from-plain-http, --to-plain-http), the registries its own
	// flags talk plain HTTP to, from its arguments: the client's and the
	// advised commands' alike.
	sidePlainHosts map[*cobra.Command]func(args []string) []string
}

// setPlainSides makes f the sidePlainHosts of cmd.
func (a *app) setPlainSides(cmd *cobra.Command, f func(args []string) []string) {
	if a.sidePlainHosts == nil {
		a.sidePlainHosts = map[*cobra.Command]func(args []string) []string{}
	}
	a.sidePlainHosts[cmd] = f
}

// plainSides is what sidePlainHosts holds for cmd, none where it holds
// nothing.
func (a *app) plainSides(cmd *cobra.Command, args []string) []string {
	if f := a.sidePlainHosts[cmd]; f != nil {
		return f(args)
	}
	return nil
}

// globalOptions are the flags of every `stella mirror` command.
type globalOptions struct {
	format      string
	verbose     bool
	quiet       bool
	plainHTTP   bool
	plainHosts  []string
	insecure    bool
	caFile      string
	certFile    string
	keyFile     string
	certsDir    string
	registryCfg string
	concurrency int
	retries     int
}

func (g *globalOptions) bind(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.format, "format", "text", "output format: text or json (results on stdout, logs on stderr)")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "log each step on stderr")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "log only errors; no progress")
	f.BoolVar(&g.plainHTTP, "plain-http", false, "talk plain HTTP to every registry of the run (never by default; --plain-http-host for some only)")
	f.StringArrayVar(&g.plainHosts, "plain-http-host", nil, "talk plain HTTP to this registry, HOST[:PORT] as references name it (the port is part of the name), and HTTPS with verified certificates to the others (repeatable: one for each registry without TLS)")
	f.BoolVar(&g.insecure, "insecure", false, "skip TLS certificate verification (tests only)")
	f.StringVar(&g.caFile, "ca-file", "", "PEM file of extra CA certificates to trust for registries")
	f.StringVar(&g.certFile, "cert-file", "", "PEM client certificate, its chain after it, for registries that demand one (mutual TLS), with --key-file: presented to any registry of the run that asks for one of its CA or names none (both sides of sync)")
	f.StringVar(&g.keyFile, "key-file", "", "unencrypted PEM private key of --cert-file (PKCS#8, PKCS#1 or SEC1): the TLS client key, not a signing key")
	f.StringVar(&g.certsDir, "certs-dir", "", "directory laid out as docker's certs.d: DIR/HOST[:PORT]/ holds *.crt CAs and a NAME.cert + NAME.key client pair for that registry, used instead of --cert-file's (e.g. /etc/docker/certs.d; never read unless given)")
	f.StringVar(&g.registryCfg, "registry-config", "", "docker config.json to read credentials from (default: docker's own)")
	f.IntVar(&g.concurrency, "concurrency", transfer.DefaultConcurrency, fmt.Sprintf("blobs transferred at once, 1 to %d (import, push and sync send up to a quarter as many more, each under 1 MiB, beside them)", transfer.MaxConcurrency))
	f.IntVar(&g.retries, "retries", remote.DefaultRetries, fmt.Sprintf("retries of a request after a transient fault (5xx, 429, reset), with backoff, 0 to %d", remote.MaxRetries))
	completeFormat(cmd)
}

// validate checks the global flags before a command runs, so that a bad
// --format is refused before any work is done.
func (g *globalOptions) validate() error {
	if g.format != "text" && g.format != "json" {
		return usageError("--format %q: want text or json", g.format)
	}
	// Zero and below are refused, not taken for the default (the options'
	// zero values): whoever wrote them meant something else.
	if g.concurrency < 1 {
		return usageError("--concurrency %d: want 1 or more (blobs transferred at once)", g.concurrency)
	}
	if g.retries < 0 {
		return usageError("--retries %d: want 0 or more (0 retries nothing)", g.retries)
	}
	if g.concurrency > transfer.MaxConcurrency {
		return usageError("--concurrency %d: want 1 to %d (blobs transferred at once)", g.concurrency, transfer.MaxConcurrency)
	}
	if g.retries > remote.MaxRetries {
		return usageError("--retries %d: want 0 to %d (0 retries nothing)", g.retries, remote.MaxRetries)
	}
	for _, h := range g.plainHosts {
		if err := mirror.CheckPlainHTTPHost(h); err != nil {
			return err
		}
	}
	return nil
}

// checkRegistryConfig refuses a --registry-config naming no file, as a
// missing --ca-file or --certs-dir is refused: read as no credentials at
// all, a mistyped name sent every request anonymously. login, which
// writes it, makes it; logout, which sends nothing, finds no credentials
// there to remove ("not logged in", exit 0, as docker logout).
//
// Its advice talks plain HTTP to the hosts --plain-http-host names and
// to sidePlain (a sync's or an import REF's --from-plain-http,
// --to-plain-http): a login, pasted as printed for one of those, talked
// HTTPS to a registry without TLS, and failed.
//
// A command that talks to no registry (talksToRegistries) reads no
// credentials and refuses nothing: an alias that gives --registry-config
// to every command kept the far side, where no such file is, from
// verifying a bundle.
func (g *globalOptions) checkRegistryConfig(cmd *cobra.Command, args []string, sidePlain ...string) error {
	if g.registryCfg == "" || cmd.Name() == "login" || cmd.Name() == "logout" || !talksToRegistries(cmd, args) {
		return nil
	}
	if _, err := os.Stat(g.registryCfg); errors.Is(err, fs.ErrNotExist) {
		plain := slices.Clip(g.plainHosts)
		for _, h := range sidePlain {
			// Only a HOST[:PORT]: an --registry not yet checked may
			// hold credentials, which are never printed; the command
			// refuses it anyway.
			if mirror.CheckPlainHTTPHost(h) == nil {
				plain = append(plain, h)
			}
		}
		login := mirror.LoginCommand("HOST", remote.Options{
			PlainHTTP: g.plainHTTP, PlainHTTPHosts: plain, Insecure: g.insecure, CAFile: g.caFile, CertFile: g.certFile,
			KeyFile: g.keyFile, CertsDir: g.certsDir, ConfigFile: g.registryCfg,
		})
		return fmt.Errorf("--registry-config %s: no such file (%s writes it): %w", g.registryCfg, login, errdef.ErrNotFound)
	}
	return nil
}

// registryUse annotates a command (cobra.Command.Annotations) with the
// registries it talks to, and so whether it reads --registry-config:
// noRegistry for one that talks to none (keys, a bundle on disk),
// pathOrRegistry for one whose argument is a bundle on disk or a REF
// (inspect). A command not annotated may talk to registries: its
// --registry-config is checked.
const (
	registryUse    = "stella-registry-use"
	noRegistry     = "none"
	pathOrRegistry = "path-or-ref"
)

// talksToRegistries reports whether cmd, run with args, may talk to a
// registry (registryUse).
func talksToRegistries(cmd *cobra.Command, args []string) bool {
	switch cmd.Annotations[registryUse] {
	case noRegistry:
		return false
	case pathOrRegistry:
		// As pkg/mirror reads a source: one that exists on disk is read
		// there, whatever it looks like, and so is one that is no
		// HOST/REPO:TAG or @DIGEST (a bundle not there is refused so).
		if len(args) > 0 {
			_, err := os.Stat(args[0])
			ref, perr := registry.ParseReference(args[0])
			return err != nil && perr == nil && ref.Reference != ""
		}
	}
	return true
}

// logger returns the slog logger for the command: warnings by default,
// info with --verbose, errors only with --quiet. It writes to stderr.
func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case a.global.quiet:
		level = slog.LevelError
	case a.global.verbose:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// routeStdLog sends what the standard logger is given to the command's
// logger, as warnings, until the command ends (Execute restores it).
// net/http logs there alone, with no hook of its own in a client: a
// response a registry or proxy sent on an idle connection ("Unsolicited
// response received on idle HTTP channel …"). It went to stderr whatever
// the flags, --quiet too, in no format of the CLI's.
func (a *app) routeStdLog() {
	if a.stdLogRestore != nil {
		return
	}
	w, flags := log.Writer(), log.Flags()
	a.stdLogRestore = func() { log.SetOutput(w); log.SetFlags(flags) }
	log.SetFlags(0)
	log.SetOutput(stdLogWriter{a.logger()})
}

// stdLogWriter writes each line of the standard logger as a warning.
type stdLogWriter struct{ log *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// remoteClient builds the registry client from the global flags
// (--plain-http-host among them), and talks plain HTTP to plainHosts
// besides (sync's --from-plain-http, --to-plain-http).
func (a *app) remoteClient(plainHosts ...string) (*remote.Client, error) {
	// --retries 0 retries nothing; remote.Options' zero is its default.
	retries := a.global.retries
	if retries == 0 {
		retries = -1
	}
	return remote.New(remote.Options{
		PlainHTTPHosts: append(slices.Clip(a.global.plainHosts), plainHosts...),
		PlainHTTP:      a.global.plainHTTP,
		Insecure:       a.global.insecure,
		CAFile:         a.global.caFile,
		CertFile:       a.global.certFile,
		KeyFile:        a.global.keyFile,
		CertsDir:       a.global.certsDir,
		ConfigFile:     a.global.registryCfg,
		UserAgent:      "stella-mirror/" + Version(),
		Retries:        retries,
		Connections:    a.global.concurrency + transfer.SmallWorkers(a.global.concurrency),
	})
}

// transferOptions builds the transfer options from the global flags.
func (a *app) transferOptions() transfer.Options {
	return transfer.Options{Concurrency: a.global.concurrency, Attempts: a.global.retries + 1}
}
