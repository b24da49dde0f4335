# keyprov — see README.md. The two commands: `make run` and `make test`.

GO      ?= go
BIN     := bin/keyprov
PGDIR   := .pgdata
WITHPG  := $(GO) run ./internal/pgtest/withpg
# Example tokens for `make run` (EXAMPLES ONLY, never use them anywhere real).
EXAMPLE_ENV := examples/example-tokens.env
FUZZTIME ?= 4s

.PHONY: all build dist image run stop test deps lint unit fuzz-short fuzz bench clean

all: build

# Release builds: static (no cgo), paths trimmed, stamped with the release
# number of VERSION and git's description of the tree, e.g. 0.2.0-12-g…
# after the tag v0.2.0 (0.2.0-g… without it; -dirty when the tree has
# changes), the commit and the commit's date (the build time outside git).
# `keyprov version` prints them. Each value is computed once, on first use.
RELEASE       = $(eval RELEASE := $$(shell cat VERSION))$(RELEASE)
GIT_DESC      = $(eval GIT_DESC := $$(shell git describe --tags --always --dirty --abbrev=12 --match 'v$(RELEASE)' 2>/dev/null))$(GIT_DESC)
STAMP_VERSION = $(or $(patsubst v%,%,$(filter v$(RELEASE) v$(RELEASE)-%,$(GIT_DESC))),$(if $(GIT_DESC),$(RELEASE)-g$(GIT_DESC),$(RELEASE)))
STAMP_COMMIT  = $(eval STAMP_COMMIT := $$(if $$(GIT_DESC),$$(shell git rev-parse HEAD)))$(STAMP_COMMIT)
STAMP_DATE    = $(eval STAMP_DATE := $$(if $$(STAMP_COMMIT),$$(shell TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd),$$(shell date -u +%Y-%m-%dT%H:%M:%SZ)))$(STAMP_DATE)
GO_LDFLAGS    = -s -w -X main.version=$(STAMP_VERSION) -X main.commit=$(STAMP_COMMIT) -X main.date=$(STAMP_DATE)
GO_BUILD      = CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(GO_LDFLAGS)'

build:
	$(GO_BUILD) -o $(BIN) ./cmd/keyprov

# The release binaries, each named keyprov-VERSION-OS-ARCH, and SHA256SUMS
# (check with `cd dist && sha256sum -c SHA256SUMS`).
DIST           ?= dist
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64 darwin/amd64
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(DIST_PLATFORMS); do \
		out=$(DIST)/keyprov-$(STAMP_VERSION)-$${p%/*}-$${p#*/}; echo "$$out"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_BUILD) -o "$$out" ./cmd/keyprov; \
	done
	@cd $(DIST) && if command -v sha256sum >/dev/null; then sha256sum keyprov-*; else shasum -a 256 keyprov-*; fi > SHA256SUMS
	@echo "$(DIST)/SHA256SUMS"

# The container image (Containerfile): the static linux binary, the CA
# certificates of this machine for TLS to the database, and a passwd file
# naming the user 65532, staged in IMAGE_DIR, then built with podman or
# buildah. No RUN step and an empty base: nothing is pulled.
# IMAGE_FLAGS are the tool's global flags (e.g. --storage-driver vfs).
IMAGE_TOOL   ?= $(firstword $(notdir $(shell command -v podman buildah 2>/dev/null)))
IMAGE_NAME   ?= localhost/keyprov
IMAGE        ?= $(IMAGE_NAME):$(STAMP_VERSION)
IMAGE_DIR    ?= bin/image
IMAGE_FLAGS  ?=
IMAGE_SOURCE ?= https://github.com/keyprov/keyprov
CA_CERTS     ?= /etc/ssl/certs/ca-certificates.crt
image:
	@if [ -z "$(IMAGE_TOOL)" ]; then echo "make image: needs podman or buildah (Debian: apt-get install podman)" >&2; exit 1; fi
	@if [ ! -s "$(CA_CERTS)" ]; then echo "make image: no CA certificates at $(CA_CERTS) (Debian: apt-get install ca-certificates)" >&2; exit 1; fi
	rm -rf $(IMAGE_DIR) && mkdir -p $(IMAGE_DIR)
	GOOS=linux $(GO_BUILD) -o $(IMAGE_DIR)/keyprov ./cmd/keyprov
	cp $(CA_CERTS) $(IMAGE_DIR)/ca-certificates.crt
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' > $(IMAGE_DIR)/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > $(IMAGE_DIR)/group
	$(IMAGE_TOOL) $(IMAGE_FLAGS) build --file Containerfile --tag $(IMAGE) \
		--build-arg VERSION=$(STAMP_VERSION) --build-arg REVISION=$(STAMP_COMMIT) \
		--build-arg CREATED=$(STAMP_DATE) --build-arg SOURCE=$(IMAGE_SOURCE) $(IMAGE_DIR)

# Apply keys.hcl to a local PostgreSQL. Without KEYPROV_DATABASE_URL, a
# cluster is started from the local PostgreSQL binaries with its data in
# $(PGDIR) (git-ignored), and kept running between runs: `make stop` stops it.
# As root, the server runs as the postgres user: when it cannot enter this
# checkout (in /root, mode 0700), the data lives in a directory of its own
# under /var/tmp, which $(PGDIR)/cluster links to, and `make run` says so.
run: build
	@if [ -z "$$KEYPROV_DATABASE_URL" ]; then $(WITHPG) start -dir $(PGDIR); fi
	@set -a; . ./$(EXAMPLE_ENV); set +a; \
	if [ -z "$$KEYPROV_DATABASE_URL" ]; then export KEYPROV_DATABASE_URL_FILE=$(PGDIR)/url; fi; \
	./$(BIN) apply -f keys.hcl

stop:
	@$(WITHPG) stop -dir $(PGDIR)

# The whole test suite: formatting, vet, every test with the race detector
# against a throwaway PostgreSQL cluster (unless KEYPROV_TEST_DATABASE_URL
# is set), and each fuzz target for a few seconds on its committed corpus.
# The figures of long tests (kills survived, hostile cases, secrets scanned,
# fuzz executions) are printed at the end.
test:
	@summary=$$(mktemp); trap 'rm -f "$$summary"' EXIT; \
	KEYPROV_TEST_SUMMARY=$$summary $(MAKE) --no-print-directory deps lint unit fuzz-short && \
	{ echo; echo "Figures of this run:"; cat "$$summary"; }

# What the tests need from the system besides Go and make, checked first:
# on a machine without it, make test says in one line what to install.
# .ci/run installs the same packages, and README's set-up section lists
# them (internal/pgtest's TestSetupMatchesCI compares the three).
deps:
	@missing=""; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	$(WITHPG) bin >/dev/null 2>&1 || missing="$$missing postgresql"; \
	{ command -v pgbouncer || [ -x /usr/sbin/pgbouncer ]; } >/dev/null 2>&1 || missing="$$missing pgbouncer"; \
	{ command -v podman || command -v buildah; } >/dev/null 2>&1 || missing="$$missing podman"; \
	[ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$$missing ca-certificates"; \
	/usr/bin/python3 -c 'import psycopg' >/dev/null 2>&1 || missing="$$missing python3-psycopg"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "make test needs Debian's$$missing: apt-get install -y$$missing (as root), or run .ci/run, which installs what is missing"; exit 1; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(WITHPG) run -- $(GO) test -race -count=1 -timeout 15m ./...

# Each fuzz target for FUZZTIME on its committed corpus; the last progress
# line of each (executions, new inputs) is kept as the figure of the run.
fuzz-short:
	@for p in ./spec ./token ./scan; do \
		for t in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
			out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p 2>&1) || { \
				if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
					echo "fuzz $$p $$t: coordinator timed out without a failing input (golang/go#75804); running once more"; \
					out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p 2>&1) || { echo "$$out"; exit 1; }; \
				else echo "$$out"; exit 1; fi; \
			}; \
			line="fuzz $$p $$t ($(FUZZTIME)): $$(echo "$$out" | grep '^fuzz: elapsed' | tail -1 | sed 's/^fuzz: elapsed: [^,]*, //')"; \
			echo "$$line"; \
			if [ -n "$$KEYPROV_TEST_SUMMARY" ]; then echo "$$line" >> "$$KEYPROV_TEST_SUMMARY"; fi; \
		done; \
	done

# The same for longer: FUZZTIME defaults to 60s here (make fuzz FUZZTIME=10m);
# then the fast path's differential test (make test walks 2,000 steps with
# seed 1) for DIFF_STEPS steps from a new seed, printed (DIFF_SEED=N repeats
# a walk).
DIFF_STEPS ?= 20000
DIFF_SEED  ?= $(shell date +%s)
fuzz:
	@$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(if $(filter command line environment,$(origin FUZZTIME)),$(FUZZTIME),60s)
	$(WITHPG) run -- env KEYPROV_DIFF_STEPS=$(DIFF_STEPS) KEYPROV_DIFF_SEED=$(DIFF_SEED) \
		$(GO) test -count=1 -timeout 3h -run '^TestFastPathDifferential$$' -v ./cmd/keyprov

clean:
	rm -rf bin $(DIST)

# Benchmarks report, they never fail on a time (see BENCHMARKS.md): keyprov
# at N keys against COPY, CopyFrom and a psql script of upserts on the same
# data, in a throwaway cluster, then the Go micro-benchmarks (evaluation,
# diff, loading, hashing, verification). It draws the no-op apply's wall
# time against N (fast path, full path, references) to BENCH_SVG. Without
# 1,000,000 keys (several minutes: the psql script is slow):
# make bench BENCH_N=1000,10000,100000
BENCH_N     ?= 1000,10000,100000,1000000
BENCH_SVG   ?= internal/benchmark/scaling.svg
BENCH_FLAGS ?=
bench:
	$(GO) run ./internal/benchmark -n $(BENCH_N) -svg $(BENCH_SVG) $(BENCH_FLAGS)
	$(WITHPG) run -- $(GO) test -run '^$$' -bench . -benchmem ./spec ./reconcile ./store ./token ./verify
	$(GO) run ./internal/benchmark/scanhistory

# The fault tests of internal/faults with long loops (make test runs them
# with short ones): SIGKILLs and terminated sessions during a 20,000-key
# apply, then the figures of the run.
FAULT_KILLS        ?= 64
FAULT_TERMINATIONS ?= 32
.PHONY: faults
faults:
	KEYPROV_FAULT_KILLS=$(FAULT_KILLS) KEYPROV_FAULT_TERMINATIONS=$(FAULT_TERMINATIONS) \
	$(WITHPG) run -- $(GO) test -race -count=1 -timeout 90m -v ./internal/faults
