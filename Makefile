# chatgate — build and test entry points. `make test` is exactly what CI (.ci/run) runs.

GO       ?= go
BIN      ?= bin/chatgate
FUZZTIME ?= 5s
# Packages to test; override to narrow down, e.g. make gotest PKGS=./web/...
PKGS     ?= ./...
# staticcheck is pinned: a new release brings new checks, which should arrive in a commit of
# their own, not break CI on an unrelated change. `make tools` installs this version.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build run test fmt-check tidy-check vet staticcheck tools gotest fuzz node-test widget widget-check console console-check browser-test bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/chatgate

run:
	$(GO) run ./cmd/chatgate

## test: everything CI runs, in order of cost. The import-direction rule of
## docs/architecture.md is a Go test (internal/archtest), so it runs in gotest.
test: fmt-check tidy-check vet staticcheck widget-check console-check gotest fuzz node-test browser-test

fmt-check:
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

## tidy-check: go.mod and go.sum are exactly what `go mod tidy` would write.
tidy-check:
	$(GO) mod tidy -diff

vet:
	$(GO) vet $(PKGS)

## tools: the pinned staticcheck, built with the Go toolchain of this module.
tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck:
	@if ! $(GO) version -m "$(STATICCHECK)" 2>/dev/null | grep -Eq "^\s+mod\s+honnef.co/go/tools\s+$(STATICCHECK_VERSION)\s"; then \
		echo "staticcheck $(STATICCHECK_VERSION) not found at $(STATICCHECK); run: make tools"; exit 1; fi
	$(STATICCHECK) $(PKGS)

## gotest: every package under the race detector, then the exported day at its full size
## (10,000 chats; under -race web/feed's TestExportDay runs 1,000, docs/workflow.md "Tests").
gotest:
	$(GO) test -race -timeout 10m $(PKGS)
	$(GO) test -count=1 -timeout 10m -run '^TestExportDay$$' ./web/feed/

## fuzz: every Fuzz target of every package, $(FUZZTIME) each. Targets are discovered with
## `go test -list` in the packages whose tests declare one, so new targets are picked up
## without editing this file.
fuzz:
	@set -e; \
	pkgs=$$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . | grep -v node_modules | xargs -r -n1 dirname | sort -u); \
	n=0; \
	for dir in $$pkgs; do \
		for target in $$($(GO) test -list '^Fuzz' "$$dir" | grep -E '^Fuzz'); do \
			echo "fuzz $$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime=$(FUZZTIME) "$$dir"; \
			n=$$((n+1)); \
		done; \
	done; \
	echo "fuzzed $$n targets"

## node-test: the CometD / Faye npm clients against the real binary (bin/chatgate);
## bin/webpushfake is the local Web Push service of the seed-recipe test (test/webpushfake).
node-test: build
	$(GO) build -o bin/webpushfake ./test/webpushfake
	cd test/clients && npm ci --no-audit --no-fund && npm test

## widget: rebuild the customer widget bundle widget/dist/chatgate.js (committed, embedded
## in the binary) from widget/src with esbuild. Commit the result.
widget:
	cd widget && npm ci --no-audit --no-fund && node build.mjs

## widget-check: rebuild the bundle into a temporary file and fail if it differs from the
## committed one (the source changed without `make widget`, or the build is not reproducible).
widget-check:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd widget && npm ci --no-audit --no-fund >/dev/null && node build.mjs --out "$$tmp/chatgate.js"; \
	if ! cmp -s "$$tmp/chatgate.js" dist/chatgate.js; then \
		echo "widget/dist/chatgate.js is not the build of widget/src: run make widget and commit it"; exit 1; \
	fi; \
	echo "widget bundle up to date ($$(wc -c < dist/chatgate.js) bytes, $$(gzip -9 -c dist/chatgate.js | wc -c) gzipped)"

## console: rebuild the agent, admin and supervisor console bundles web/console/dist/*.js (committed,
## embedded in the binary) from web/console/src with esbuild. Commit the result.
console:
	cd web/console && npm ci --no-audit --no-fund && node build.mjs

## console-check: rebuild the console bundles into a temporary directory and fail if they
## differ from the committed ones (like widget-check).
console-check:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd web/console && npm ci --no-audit --no-fund >/dev/null && node build.mjs --outdir "$$tmp"; \
	for f in agent.js admin.js supervisor.js login.js; do \
		if ! cmp -s "$$tmp/$$f" "dist/$$f"; then \
			echo "web/console/dist/$$f is not the build of web/console/src: run make console and commit it"; exit 1; \
		fi; \
	done; \
	if [ "$$(ls "$$tmp" | wc -l)" != 4 ]; then echo "console build writes files console-check does not compare"; exit 1; fi; \
	echo "console bundles up to date ($$(cat dist/agent.js dist/admin.js dist/supervisor.js dist/login.js | wc -c) bytes)"

## browser-test: the widget and the consoles in headless Debian Chromium (playwright-core) against bin/chatgate.
## Screenshots of its states are written to docs/widget/. bin/webpushfake is the local Web
## Push service the push test points the browser's subscription at (test/webpushfake).
browser-test: build
	$(GO) build -o bin/webpushfake ./test/webpushfake
	cd test/browser && npm ci --no-audit --no-fund && npm test

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
