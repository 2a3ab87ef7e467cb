package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stellaops/mirror/pkg/mirror"
)

func newDoctorCmd(app *app) *cobra.Command {
	var opts mirror.DoctorOptions
	cmd := &cobra.Command{
		Use:   "doctor --registry HOST[:PORT]",
		Short: "Diagnose a registry: what it supports and how import and push will use it",
		Long: `Diagnose a registry with real requests, before the maintenance window rather
than during it, using the same credentials (docker config.json, --registry-config),
TLS settings (--ca-file, --cert-file/--key-file, --certs-dir, --insecure,
--plain-http, --plain-http-host) and retries as import and push:

  reachable       GET /v2/ answers
  tls             the certificate verifies (issuer, expiry)
  client-cert     whether the registry asks for a client certificate (mutual TLS),
                  and whether the one given (--cert-file, --certs-dir) was
                  presented (only to a registry asking for one of its CA) and
                  accepted
  auth            the authentication asked for, and whether the credentials work
  push            two small blobs (one PUT each) and a manifest can be written
  chunked-upload  a blob can be sent in chunks (one small PATCH, session cancelled)
  artifact-type   OCI 1.1 artifact manifests (artifactType, subject) are accepted
  referrers-api   GET /v2/<repo>/referrers/<digest> is served
  oci-subject     the OCI-Subject header comes back on a push with a subject
  fallback-tag    a sha256-<hex> tag (the referrers fallback) can be written
  manifest-size   the largest manifest accepted, up to 4 MiB (stella's bound)
  blob-mount      a cross-repository mount answers 201
  cleanup         the probes were deleted again

It writes a few bytes into --repo (and --repo/mount) and deletes them where the
registry allows deletes. It ends with the mode import and push will use there:
referrers API or sha256-<hex> fallback tags, blob mounts or uploads, blobs
in chunks or in one request each.

Exit 0 when the registry is usable; 1 when it is unreachable, refuses the
credentials or the client certificate, or cannot hold a bundle (the report is printed either way).`,
		Example: `  stella mirror doctor --registry registry.internal:5000
  stella mirror doctor --registry registry.internal --ca-file /etc/pki/internal-ca.pem --format json
  stella mirror doctor --registry registry.internal --ca-file internal-ca.pem --cert-file client.pem --key-file client.key
  stella mirror doctor --registry localhost:5000 --plain-http --repo sandbox/mirror-doctor
  stella mirror doctor --registry 10.0.0.5:5000 --plain-http-host 10.0.0.5:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Client, err = app.remoteClient(); err != nil {
				return err
			}
			opts.Logger = app.logger()
			res, err := mirror.Doctor(cmd.Context(), opts)
			if res == nil {
				return err
			}
			if err != nil && app.global.format == "json" {
				// One JSON document: the report, with the error and exit
				// code every failed command's JSON carries.
				_ = app.emit(doctorFailure{DoctorResult: res, Error: oneLine(err), ExitCode: ExitCode(err)}, nil)
				return reportedError{err}
			}
			if eerr := app.emit(res, func(w io.Writer) { printDoctor(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Registry, "registry", "", "registry to diagnose, HOST[:PORT] (required)")
	f.StringVar(&opts.Repository, "repo", mirror.DefaultDoctorRepository, "repository to write the probes into (and delete them from)")
	_ = cmd.MarkFlagRequired("registry")
	return cmd
}

// doctorFailure is doctor's JSON when the registry is not usable.
type doctorFailure struct {
	*mirror.DoctorResult
	Error    string `json:"error"`
	ExitCode int    `json:"exitCode"`
}

func printDoctor(w io.Writer, r *mirror.DoctorResult) {
	fmt.Fprintf(w, "Registry %s (probe repository %s)\n", r.Registry, r.Repository)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, c.Detail)
	}
	tw.Flush()
	if m := r.Mode; m != nil {
		mounts := "uploaded into each repository (no mounts)"
		if m.Mounts {
			mounts = "mounted across repositories"
		}
		fmt.Fprintf(w, "Mode: import and push attach referrers by %s; shared blobs are %s\n", m.Referrers, mounts)
		if m.Uploads != "" {
			fmt.Fprintf(w, "Uploads: %s\n", m.Uploads)
		}
	}
	if r.Usable {
		fmt.Fprintln(w, "Usable: yes")
	} else {
		fmt.Fprintln(w, "Usable: no")
	}
}
