package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	// hashivault:// is built in: the plan keeps production keys in Vault.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"

	"github.com/stellaops/mirror/pkg/errdef"
)

// EnvScheme prefixes a key reference that names an environment variable
// holding a PEM key, or the base64 of one (the plan's COSIGN_PRIVATE_KEY_B64).
const EnvScheme = "env://"

// maxKeyFile bounds a key or certificate file read into memory; real ones
// are a few kilobytes.
const maxKeyFile = 1 << 20

// schemePattern matches the "scheme://" that starts a KMS reference. In
// any case, as URL schemes are: one in capitals (HASHIVAULT://…), taken
// for a file name, was named whole, credentials and all.
var schemePattern = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://`)

// cosignKMSSchemes are the KMS schemes cosign knows. Those not registered
// with sigstore's kms package in this binary are refused with a clear
// message instead of falling through to sigstore's plugin mechanism, which
// would run a program found on $PATH.
var cosignKMSSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}

// kind says how a reference is resolved.
type kind int

const (
	kindFile kind = iota
	kindEnv
	kindKMS
)

// classify tells a file path from env:// and KMS references.
func classify(ref string) (kind, error) {
	if ref == "" {
		return 0, fmt.Errorf("empty key reference: %w", errdef.ErrUsage)
	}
	if strings.HasPrefix(ref, EnvScheme) {
		return kindEnv, nil
	}
	m := schemePattern.FindString(ref)
	if m == "" {
		if inlineKey(ref) {
			// Never echoed: it may be a private key.
			return 0, fmt.Errorf("key reference: a key given itself (%d bytes), not a file name or reference; put it in an environment variable and give %sNAME: %w", len(ref), EnvScheme, errdef.ErrUsage)
		}
		return kindFile, nil
	}
	for _, p := range kms.SupportedProviders() {
		if m == p {
			return kindKMS, nil
		}
	}
	known := false
	for _, s := range cosignKMSSchemes {
		known = known || s == m
	}
	if known {
		return 0, fmt.Errorf("key reference %s: the %s scheme is not built into stella (built in: %s, %s, files): %w",
			refWithoutCredentials(ref), m, EnvScheme, strings.Join(SupportedKMS(), ", "), errdef.ErrUsage)
	}
	return 0, fmt.Errorf("key reference %s: unknown scheme %s (want a file, %s or %s): %w",
		refWithoutCredentials(ref), m, EnvScheme, strings.Join(SupportedKMS(), ", "), errdef.ErrUsage)
}

// refWithoutCredentials returns a reference of a scheme with the user
// information before its host (USER:PASSWORD@ or TOKEN@, as a URL carries
// it) replaced by "***@", for messages. Everything up to the last "@" is
// taken for it: a password typed as is may hold a "/" (a path holding an
// "@" is blanked too, which names no secret).
func refWithoutCredentials(ref string) string {
	i := strings.Index(ref, "://")
	if i < 0 {
		return ref
	}
	scheme, rest := ref[:i+3], ref[i+3:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		return scheme + "***@" + rest[at+1:]
	}
	return ref
}

// inlineKey says whether ref, taken for a file name, is a key itself:
// PEM text, the base64 of it (`--key "$COSIGN_PRIVATE_KEY"` written for
// `--key env://COSIGN_PRIVATE_KEY`), or the base64 of a key's DER (what
// `openssl ec -outform DER | base64` gives). Such a reference must never
// be echoed in an error, as file names are.
func inlineKey(ref string) bool {
	if strings.Contains(ref, "-----BEGIN") || strings.ContainsAny(ref, "\n\r") {
		return true
	}
	if _, err := decodeEnv("", []byte(ref)); err == nil {
		return true
	}
	return base64PEM(ref) || base64DER(ref)
}

// base64PEM says whether s is the base64 of text holding a PEM BEGIN line
// anywhere: a key file whose block does not start it (a UTF-8 byte order
// mark, openssl pkcs12's "Bag Attributes" lines), which decodeEnv does
// not take for a key, is one all the same, and so is a key file saved as
// UTF-16 (Windows PowerShell's >), whose characters are its bytes with
// zeros between them.
func base64PEM(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil &&
			(bytes.Contains(b, []byte("-----BEGIN ")) || bytes.Contains(bytes.ReplaceAll(b, []byte{0}, nil), []byte("-----BEGIN "))) {
			return true
		}
	}
	return false
}

// base64DER says whether s is the base64 of DER: at least 64 characters
// (a P-256 key's DER is 91 bytes public, 121 private) decoding to an
// ASN.1 SEQUENCE. A file name of that form is not one anybody types.
func base64DER(s string) bool {
	if len(s) < 64 {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) > 2 && b[0] == 0x30 {
			return true
		}
	}
	return false
}

// SupportedKMS lists the KMS reference schemes built into this binary.
func SupportedKMS() []string { return kms.SupportedProviders() }

// readPEM returns the PEM text a file or env:// reference holds. An env://
// variable may hold the PEM itself or its base64. Errors name the reference,
// never its content.
func readPEM(ref string, k kind) ([]byte, error) {
	if k == kindEnv {
		name := strings.TrimPrefix(ref, EnvScheme)
		val, ok := os.LookupEnv(name)
		if name == "" || !ok {
			return nil, fmt.Errorf("key reference %s: environment variable %q is not set: %w", ref, name, errdef.ErrNotFound)
		}
		if strings.TrimSpace(val) == "" {
			// As a CI secret that is not defined leaves it.
			return nil, fmt.Errorf("key reference %s: environment variable %q is set but empty (a CI secret that is not defined?): %w", ref, name, errdef.ErrNotFound)
		}
		if err := refuseBOM(ref, []byte(val)); err != nil {
			return nil, err
		}
		return decodeEnv(ref, []byte(val))
	}
	f, err := os.Open(ref)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key %s: no such file: %w", ref, errdef.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: cannot read: %w", ref, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("key %s: cannot read: %w", ref, unwrapPathError(err))
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key %s: larger than %d bytes, not a key: %w", ref, maxKeyFile, errdef.ErrUsage)
	}
	// UTF-16 text (Windows PowerShell's > and Out-File write it by
	// default) holds no PEM block any reader finds, wherever it is.
	if bytes.HasPrefix(data, []byte("\xFF\xFE")) || bytes.HasPrefix(data, []byte("\xFE\xFF")) {
		return nil, fmt.Errorf("key %s: is UTF-16 text (written by Windows PowerShell's > or Out-File?), which no PEM reader takes: save it as UTF-8 without a byte order mark (Out-File -Encoding ascii): %w", ref, errdef.ErrUsage)
	}
	// Only a mark right before the first BEGIN line hides a block: one
	// before text ahead of it (openssl's "Bag Attributes" and "subject="
	// lines, a comment) hides none, and such a file was always read.
	if bytes.HasPrefix(bytes.TrimPrefix(data, []byte(utf8BOM)), []byte("-----BEGIN ")) {
		if err := refuseBOM(ref, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xEF\xBB\xBF"

// refuseBOM refuses PEM text that starts with a UTF-8 byte order mark, as
// an editor saving "UTF-8 with BOM" writes it: its BEGIN line no longer
// starts the text, so neither encoding/pem nor cosign finds the block,
// and the file, which looks right in an editor, is named for what it
// holds rather than as "not a PEM key".
func refuseBOM(ref string, data []byte) error {
	if bytes.HasPrefix(data, []byte(utf8BOM)) {
		return fmt.Errorf("key %s: starts with a UTF-8 byte order mark (saved as \"UTF-8 with BOM\"?), which no PEM reader takes: save it without one: %w", ref, errdef.ErrUsage)
	}
	return nil
}

// unwrapPathError keeps the cause of a file error and marks it as a usage
// error (exit 1), so "permission denied" reads clearly.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%v: %w", err, errdef.ErrUsage)
}

// decodeEnv accepts PEM, or base64 of PEM with any line wrapping.
func decodeEnv(ref string, val []byte) ([]byte, error) {
	val = bytes.TrimSpace(val)
	if bytes.HasPrefix(val, []byte("-----BEGIN ")) {
		return val, nil
	}
	compact := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, val)
	dec := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Decode(dec, compact)
	if err == nil && bytes.HasPrefix(bytes.TrimSpace(dec[:n]), []byte(utf8BOM+"-----BEGIN ")) {
		// The base64 of a file saved as "UTF-8 with BOM": named for
		// what it holds, as the file itself is (refuseBOM).
		return nil, fmt.Errorf("key reference %s: the PEM key the variable holds in base64 starts with a UTF-8 byte order mark (its file saved as \"UTF-8 with BOM\"?), which no PEM reader takes: encode it without one: %w", ref, errdef.ErrUsage)
	}
	if err == nil && (bytes.HasPrefix(dec[:n], []byte("\xFF\xFE")) || bytes.HasPrefix(dec[:n], []byte("\xFE\xFF"))) {
		// The base64 of a file saved by Windows PowerShell's > (readFile
		// names such a file itself so).
		return nil, fmt.Errorf("key reference %s: the variable holds the base64 of UTF-16 text (a key file written by Windows PowerShell's > or Out-File?), which no PEM reader takes: save the file as UTF-8 without a byte order mark (Out-File -Encoding ascii) and encode that: %w", ref, errdef.ErrUsage)
	}
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(dec[:n]), []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("key reference %s: the variable holds neither a PEM key nor the base64 of one: %w", ref, errdef.ErrUsage)
	}
	return bytes.TrimSpace(dec[:n]), nil
}

// urlCredentials matches the credentials of a URL (USER:PASSWORD@ or
// TOKEN@ after its scheme), as VAULT_ADDR may hold them: up to the last
// "@" before a blank or quote, since a password typed as is may hold a
// "/" or an "@" (the last "@" ends them, as url.Parse takes it).
// quotedURLCredentials matches them in a URL Go's error quotes (parse
// "…"), up to the last "@" before the closing quote: a password holding
// a blank does not parse, and is quoted whole.
var (
	urlCredentials       = regexp.MustCompile(`://[^\s"]*@`)
	quotedURLCredentials = regexp.MustCompile(`("[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^"\\]|\\.)*@`)
)

// kmsError explains a KMS failure in one line, naming ref (its
// credentials, if any, blanked). The KMS client's own words are kept, but
// Vault's span several lines and carry the request's URL as VAULT_ADDR
// gave it: its lines are joined and the credentials of any URL in it
// replaced by "***".
func kmsError(ctx context.Context, ref string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		// Why a URL does not parse quotes a part of it ("invalid port
		// \":PASSWORD-PREFIX\" after host"): the URL is named, not that.
		msg = strings.ReplaceAll(msg, ue.Err.Error(), "not a valid URL")
		// url.Parse takes what follows a "#" for a fragment and names
		// only what is before it: "https://USER:PASS#WORD@vault" is
		// quoted as "https://USER:PASS", no "@" to blank the password's
		// head up to. What follows the first ":" after the scheme goes.
		if i := strings.Index(ue.URL, "://"); i >= 0 && !strings.Contains(ue.URL, "@") {
			if host, _, ok := strings.Cut(ue.URL[i+3:], ":"); ok {
				msg = strings.ReplaceAll(msg, fmt.Sprintf("%q", ue.URL), fmt.Sprintf("%q", ue.URL[:i+3]+host+":***"))
			}
		} else if at := strings.LastIndexByte(ue.URL, '@'); i < 0 && at >= 0 {
			// No scheme (TOKEN@HOST:PORT): up to the last "@" goes.
			msg = strings.ReplaceAll(msg, fmt.Sprintf("%q", ue.URL), fmt.Sprintf("%q", "***"+ue.URL[at:]))
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	msg = quotedURLCredentials.ReplaceAllString(msg, "${1}***@")
	msg = urlCredentials.ReplaceAllString(msg, "://***@")
	// ref itself may hold them (hashivault://USER:PASSWORD@KEY, written
	// as VAULT_ADDR is), which no KMS client takes.
	return fmt.Errorf("key %s: %s: %w", refWithoutCredentials(ref), msg, errdef.ErrUsage)
}
