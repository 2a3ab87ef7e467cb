package main

import "path/filepath"

// reimportScenarios import the signed .tar into a registry that already
// holds all of it (a re-run, or a delta whose base is there): no blob is
// sent, and the run is its round trips, the checks of each blob in each of
// its repositories (-rtt shows them), at the default --concurrency and
// above it (the peak RSS of many in flight).
func (e *env) reimportScenarios() []scenario {
	pub := filepath.Join(e.work, "bench.pub")
	var target string
	held := func(int) error {
		if target != "" {
			return nil
		}
		if err := e.signedArchives(filepath.Join(e.work, "bench.key"), pub); err != nil {
			return err
		}
		host, _, err := e.registry("held")
		if err != nil {
			return err
		}
		if _, err := timed(e.reimport(host, pub, "8"), e.childEnv); err != nil {
			return err
		}
		target = host
		return nil
	}
	var out []scenario
	for _, c := range []string{"8", "64", "256"} {
		out = append(out, scenario{
			tool: "stella mirror import .tar, all held (--concurrency " + c + ")", bytes: e.unique, setup: held,
			steps: func(int) [][]string { return [][]string{e.reimport(target, pub, c)} },
		})
	}
	return out
}

func (e *env) reimport(host, pub, concurrency string) []string {
	return []string{e.stella, "mirror", "import", e.archive(".signed.tar"), "--registry", host, "--plain-http", "--key", pub, "--concurrency", concurrency, "--quiet"}
}
