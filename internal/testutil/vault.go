package testutil

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Vault is an in-process stand-in for HashiCorp Vault's transit secrets
// engine, serving on 127.0.0.1 the three endpoints sigstore's hashivault
// client uses: read a key (GET /v1/transit/keys/NAME), sign
// (PUT /v1/transit/sign/NAME/sha2-256) and verify
// (PUT /v1/transit/verify/NAME/sha2-256), for one ECDSA P-256 key, with
// token auth. It is not Vault: it knows one key version and no policies.
type Vault struct {
	Addr  string // http://127.0.0.1:PORT, for VAULT_ADDR
	Token string
	Key   *ecdsa.PrivateKey
	Name  string
	// Signs counts the sign requests served.
	Signs atomic.Int64
}

// StartVault serves a Vault stand-in holding key under name.
func StartVault(t testing.TB, name string) *Vault {
	t.Helper()
	v := &Vault{Token: "test-token", Key: newKey(t), Name: name}
	srv := httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(srv.Close)
	v.Addr = srv.URL
	return v
}

func (v *Vault) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != v.Token {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	reply := func(data map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/transit/keys/"+v.Name:
		der, _ := x509.MarshalPKIXPublicKey(&v.Key.PublicKey)
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		reply(map[string]any{"latest_version": 1, "keys": map[string]any{"1": map[string]any{"name": "P-256", "public_key": string(pub)}}})
	case (r.Method == http.MethodPut || r.Method == http.MethodPost) && r.URL.Path == "/v1/transit/sign/"+v.Name+"/sha2-256":
		var req struct {
			Input     string `json:"input"`
			Prehashed bool   `json:"prehashed"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil || !req.Prehashed {
			http.Error(w, `{"errors":["bad request"]}`, http.StatusBadRequest)
			return
		}
		digest, err := base64.StdEncoding.DecodeString(req.Input)
		if err != nil || len(digest) != 32 {
			http.Error(w, `{"errors":["bad input"]}`, http.StatusBadRequest)
			return
		}
		sig, err := ecdsa.SignASN1(rand.Reader, v.Key, digest)
		if err != nil {
			http.Error(w, `{"errors":["sign"]}`, http.StatusInternalServerError)
			return
		}
		v.Signs.Add(1)
		reply(map[string]any{"signature": "vault:v1:" + base64.StdEncoding.EncodeToString(sig), "key_version": 1})
	case (r.Method == http.MethodPut || r.Method == http.MethodPost) && r.URL.Path == "/v1/transit/verify/"+v.Name+"/sha2-256":
		var req struct{ Input, Signature string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		digest, _ := base64.StdEncoding.DecodeString(req.Input)
		sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(req.Signature, "vault:v1:"))
		reply(map[string]any{"valid": ecdsa.VerifyASN1(&v.Key.PublicKey, digest, sig)})
	default:
		http.Error(w, `{"errors":["no handler for route"]}`, http.StatusNotFound)
	}
}
