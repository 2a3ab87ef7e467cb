// Package transfer moves OCI content graphs between oras-go targets: a remote
// repository, a bundle directory, a tar stream. It walks manifests (each
// verified and bounded), copies blobs in parallel with one concurrency knob,
// verifies every byte on the way, retries transient faults, and reports
// progress through hooks rather than printing.
package transfer
