// Package dsse owns the DSSE envelope (Dead Simple Signing Envelope, v1):
// its strict parsing, the pre-authentication encoding (PAE) that is what is
// actually signed, adding signatures, and verifying them against a set of
// trusted keys with a threshold of distinct signers. It knows nothing of
// key files or bundles: signers and verifiers are small interfaces that
// pkg/keys implements.
package dsse
