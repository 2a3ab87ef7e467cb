// Package e2e holds end-to-end tests that drive the real tools of the
// field against stella: the OCI distribution-spec conformance suite, the
// oras and crane command lines. `make tools` installs them; without them
// the tests skip, unless STELLA_E2E=1 (CI), where they fail.
package e2e
