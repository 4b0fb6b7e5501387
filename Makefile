# Courier: `make run` starts it, `make test` tests it. Both bring up the
# services they need first (scripts/services.sh), so a fresh machine works.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
BIN := bin/courier
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: run test services build vet fuzz bench clean

build:
	$(GO) build -ldflags "-X main.Version=$(VERSION)" -o $(BIN) ./cmd/courier

services:
	./scripts/services.sh

run: services build
	@echo "==> Courier on http://127.0.0.1:8080 — open http://localhost:8080/ for the web chat"
	@echo "    (sign up there and at http://127.0.0.1:8080/ to chat with yourself, or: curl -s -XPOST localhost:8080/v1/accounts -d '{\"name\":\"alice\"}')"
	COURIER_LOG_FORMAT=$${COURIER_LOG_FORMAT:-text} ./$(BIN) dev

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# The whole suite, unit and integration together, against real services.
test: services vet
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Tests that drive tusd's PATCH interruption trip a data race inside
	@# tusd itself (tus/tusd#1192), so they are built with !race and run here.
	$(GO) test -count=1 -timeout 5m $$(grep -l 'go:build !race' -r --include='*_test.go' . | xargs -n1 dirname | sort -u)

# Short fuzzing of every parser of untrusted input (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench: services build
	./$(BIN) bench $(SCENARIO)

clean:
	rm -rf bin .data
