# chatgate — build and test entry points. `make test` is exactly what CI (.ci/run) runs.

GO       ?= go
BIN      ?= bin/chatgate
FUZZTIME ?= 5s
# Packages to test; override to narrow down, e.g. make gotest PKGS=./web/...
PKGS     ?= ./...

.PHONY: all build run test fmt-check vet gotest fuzz node-test bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/chatgate

run:
	$(GO) run ./cmd/chatgate

## test: everything CI runs, in order of cost.
test: fmt-check vet gotest fuzz node-test

fmt-check:
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

gotest:
	$(GO) test -race -timeout 10m $(PKGS)

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

## node-test: the CometD / Faye npm clients against the real binary (bin/chatgate).
node-test: build
	cd test/clients && npm ci --no-audit --no-fund && npm test

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
