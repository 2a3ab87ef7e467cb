// Package airgap embeds the operator scripts of plan §4 (load.sh, verify.sh,
// update.sh), which every bundle carries under scripts/ and which also work
// from this directory.
package airgap

import "embed"

// Scripts holds load.sh, verify.sh and update.sh.
//
//go:embed load.sh verify.sh update.sh
var Scripts embed.FS
