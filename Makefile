# StellaOps Mirror. `make demo` runs the main job on built-in defaults;
# `make test` runs the unit and end-to-end tests (what CI runs).
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
# Tools the tests need, installed from the Go module proxy and cached
# between clean clones.
TOOLS_BIN ?= $(HOME)/.cache/stellaops-mirror/tools
REGISTRY_VERSION := v3.1.2
ORAS_VERSION := v1.3.6
COSIGN_VERSION := v2.6.5
CRANE_VERSION := v0.22.1
# The OCI distribution-spec conformance suite has no tags: pinned by commit.
CONFORMANCE_VERSION := v0.0.0-20260831232431-97274622c111
ACTIONLINT_VERSION := v1.7.12
STATICCHECK_VERSION := v0.8.2
export PATH := $(TOOLS_BIN):$(PATH)
export STELLA_REGISTRY_BIN := $(TOOLS_BIN)/registry

.PHONY: all build test race unit e2e tools demo bench fuzz lint cross fmt clean docs

all: build

# The version `stella version` reports and create records as the producer of
# a bundle: a release tag on the commit, else dev- and the commit; +dirty
# with uncommitted changes, a tag's too (a changed tree is not the
# release); also where GOFLAGS=-buildvcs=false keeps Go from stamping it.
# "dev" outside a checkout of its own: a source tree unpacked inside
# another repository is not that repository's commit.
VERSION ?= $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && { git describe --tags --exact-match --dirty=+dirty 2>/dev/null || { c=$$(git describe --always --abbrev=12 --dirty=+dirty 2>/dev/null) && echo dev-$$c; }; } || echo dev)

build:
	$(GO) build -trimpath -ldflags "-X github.com/stellaops/mirror/internal/cli.version=$(VERSION)" -o $(BIN)/stella ./cmd/stella

tools: $(TOOLS_BIN)/registry-$(REGISTRY_VERSION) $(TOOLS_BIN)/oras-$(ORAS_VERSION) $(TOOLS_BIN)/cosign-$(COSIGN_VERSION) \
	$(TOOLS_BIN)/crane-$(CRANE_VERSION) $(TOOLS_BIN)/conformance-$(CONFORMANCE_VERSION) $(TOOLS_BIN)/actionlint-$(ACTIONLINT_VERSION)

$(TOOLS_BIN)/registry-$(REGISTRY_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)
	touch $@

$(TOOLS_BIN)/oras-$(ORAS_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)
	touch $@

# cosign, for the interoperability tests (keys and signatures both ways).
$(TOOLS_BIN)/cosign-$(COSIGN_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)
	touch $@

# crane and the OCI conformance suite, for the end-to-end tests of serve.
$(TOOLS_BIN)/crane-$(CRANE_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)
	touch $@

$(TOOLS_BIN)/conformance-$(CONFORMANCE_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/opencontainers/distribution-spec/conformance@$(CONFORMANCE_VERSION)
	touch $@

# actionlint, for the CI workflows under .gitea/workflows (run by the tests).
$(TOOLS_BIN)/actionlint-$(ACTIONLINT_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch $@

# Unit and end-to-end tests. End-to-end tests start the distribution
# registry on 127.0.0.1; with STELLA_E2E=1 (CI) a missing tool fails them
# instead of skipping. Then the race detector over the packages that move
# bytes in parallel, and over the operations' fault, interruption and
# concurrency tests, the reads of a bundle from a registry, whose
# requests go at once, and the placement's reads beside the generation
# check, whose writes wait at a gate (`make race` runs it over every
# package).
RACE_PKGS := ./pkg/transfer/... ./pkg/layout/... ./pkg/serve/... ./pkg/remote/...
RACE_RUN := Fault|Concurrent|Interrupt|RegistryBundle|HeldRootReferrers|HeldRootSkips|BesideThe|ReferrerWarningsWait
# The timeout is a hang's bound, not a budget: pkg/mirror takes 5-6
# minutes beside the end-to-end tests (9-10 on a slow day of the CI
# machine kind before its slowest tests ran in parallel and its test keys
# stopped costing half its CPU); the whole of `make test` 8.5-12.
test: tools
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)
	$(GO) test -race -count=1 -timeout 10m -run '$(RACE_RUN)' ./pkg/mirror/...

# Every package under the race detector (pkg/mirror alone takes minutes).
# Not the end-to-end tests: they run built binaries and check their memory.
race: tools
	$(GO) test -race -count=1 -timeout 30m ./pkg/... ./internal/cli/...

unit:
	$(GO) test -count=1 -short ./...

e2e: tools
	$(GO) test -count=1 -timeout 12m ./internal/e2e/...

# Fuzzing: FUZZTIME (a minute) per target; not in `make test`, which
# replays each target's seed corpus (testdata/fuzz/<Fuzz>/) only. A crash
# is saved there: commit it with its fix, as the regression test.
# Minimizing each new input is capped: with archive seeds of tens of
# kilobytes, the default (a minute) spends the whole run minimizing.
FUZZTIME ?= 1m
FUZZMINIMIZETIME ?= 2s
FUZZ_TARGETS := ./pkg/release:FuzzParse ./pkg/bundle:FuzzParseManifest ./pkg/dsse:FuzzParse \
	./pkg/layout:FuzzTarReader ./pkg/layout:FuzzParseVolumeSet ./pkg/layout:FuzzSeekable ./pkg/mirror:FuzzOpenArchive

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "==> $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	done

demo: build
	$(GO) run ./internal/demo -stella $(BIN)/stella

bench: build tools
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...
	$(GO) run ./internal/bench -stella $(BIN)/stella

# The command reference, docs/cli, generated from the commands (a test
# fails when it is stale).
docs:
	$(GO) run ./internal/cmd/gendocs docs/cli

lint: $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

$(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

# The binary builds for the systems operators carry it to (tested on Linux
# only): macOS and Windows workstations on either side of the gap.
cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/stella
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/stella
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/stella

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
