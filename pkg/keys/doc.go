// Package keys owns signing keys and their trust: cosign key references
// (a file, env://VAR, and the KMS schemes built in), cosign's encrypted key
// format, key ids, and X.509 certificate chains checked offline against
// trusted roots. It never prints, prompts or exits: a password comes from a
// PassFunc the caller supplies, and no error it returns holds key material
// or a password.
package keys
