package remote

import (
	"slices"
	"strings"
)

// CommandFlags are the command-line flags that make a run talk to host as
// a client of o does: plain HTTP, TLS (the client certificate too), and
// the credentials file. A command advised with them runs as printed.
func (o Options) CommandFlags(host string) []string {
	var args []string
	if o.PlainHTTP {
		args = append(args, "--plain-http")
	} else {
		// Every host the run was told to talk plain HTTP to, host first:
		// not host alone, as the command talks to host's token service
		// (or storage) too, which may be one of them (a token service
		// without TLS on another port), and refuses to send it
		// credentials otherwise. The others keep their TLS.
		var named []string
		if o.PlainHTTPHost(host) {
			named = append(named, host)
		}
		for _, h := range o.PlainHTTPHosts {
			if !slices.ContainsFunc(named, func(n string) bool { return strings.EqualFold(n, h) }) {
				named = append(named, h)
			}
		}
		for _, h := range named {
			args = append(args, "--plain-http-host", ShellWord(h))
		}
	}
	if o.Insecure {
		args = append(args, "--insecure")
	}
	for _, f := range []struct{ flag, value string }{
		{"--ca-file", o.CAFile}, {"--cert-file", o.CertFile}, {"--key-file", o.KeyFile},
		{"--certs-dir", o.CertsDir}, {"--registry-config", o.ConfigFile},
	} {
		if f.value != "" {
			args = append(args, f.flag, ShellWord(f.value))
		}
	}
	return args
}

// LoginCommand is the login that saves credentials for host where a run
// with o reads them, as a command that runs as written: login reads the
// password from stdin only, and talks to the registry and writes the
// config file as the flags of o say.
func (o Options) LoginCommand(host string) string {
	args := append([]string{"stella mirror login", ShellWord(host), "-u USER --password-stdin"}, o.CommandFlags(host)...)
	return strings.Join(args, " ")
}

// ShellWord quotes s for a POSIX shell where it holds anything but the
// characters of plain paths and host names.
func ShellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
