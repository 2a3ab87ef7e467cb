package testutil

import (
	"net/http"
	"testing"
)

// Delete deletes a blob or manifest from the registry at host (plain
// HTTP) as an operator or its garbage collection would, behind every
// tool's back: DELETE /v2/REPO/KIND/REF, KIND "blobs" or "manifests" (a
// digest, or a tag where the registry untags by tag). The registry must
// answer 202.
func Delete(t testing.TB, host, repo, kind, ref string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/"+repo+"/"+kind+"/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("delete %s/%s/%s from %s: %v", repo, kind, ref, host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete %s/%s/%s from %s: %s", repo, kind, ref, host, resp.Status)
	}
}
