// Package serve owns the read-only OCI registry: an http.Handler that
// implements the pull and content-discovery parts of the OCI Distribution
// API (/v2/, manifests and blobs by tag and digest with GET, HEAD and Range,
// tag list and catalog with pagination, the referrers API with artifactType
// filtering) over an abstract Source, and answers every write with the
// spec's UNSUPPORTED error.
//
// Content is the Source a bundle is served from: manifests held in memory,
// blobs read at random from a BlobStore (a bundle directory, the offsets of a
// plain tar, later a set of media volumes), each repository limited to the
// graph of what was placed in it. Server runs the handler with the limits a
// registry facing hostile clients needs, and shuts down cleanly when its
// context ends.
//
// Requests are hostile input. No request ever names a file: the handler
// looks up repositories, tags and digests in tables built before serving,
// so a name that tries to escape (../, %2e%2e) is only ever an unknown or
// invalid name. The package never prints or exits; it logs to an injected
// *slog.Logger.
package serve
