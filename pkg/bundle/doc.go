// Package bundle owns the StellaOps Mirror bundle format itself: media types
// and annotations, the signed manifest.json model and its canonical JSON, image
// references and the repository mapping rule, the shape of the root index and
// metadata manifest, and the SHA256SUMS list. It does no I/O: every function
// takes and returns bytes and values, so the same rules apply to a directory,
// a tar stream and a registry.
package bundle
