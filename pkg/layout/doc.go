// Package layout owns a bundle on disk and on media: the bundle directory
// (an OCI image layout plus the plan's human view), written through a staging
// directory that appears complete or not at all; the deterministic tar that
// pack writes; and the readers that take a bundle back from a directory or a
// tar stream as hostile input.
package layout
