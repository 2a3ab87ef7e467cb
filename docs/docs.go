// Package docs embeds the operator guides that every bundle carries under
// docs/ (plan §5.1): INSTALL.md, VERIFY.md and TROUBLESHOOT.md.
package docs

import "embed"

// Guides holds INSTALL.md, VERIFY.md and TROUBLESHOOT.md.
//
//go:embed INSTALL.md VERIFY.md TROUBLESHOOT.md
var Guides embed.FS
