# lambda-rust-websocket: `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

ARCH  ?= arm64
PORT  ?= 8080
STAGE ?= staging
AUTH  ?= none

# Tools live in project-local virtualenvs; nothing is installed globally.
PYTHON  ?= python3
VENV    := .venv
# What `make` needs: cargo-lambda (it brings zig, the cross-linker).
BUILD_VENV    := $(VENV)
CARGO_LAMBDA  := $(BUILD_VENV)/bin/cargo-lambda
BUILD_STAMP   := $(BUILD_VENV)/.build-tools-1
BUILD_PIP     := cargo-lambda==1.9.2
# What `make test` needs besides: moto (DynamoDB, SQS, KMS on 127.0.0.1),
# PyJWT (an independent JOSE implementation the token tests verify against)
# and websockets (a second client of the lrw.v1 protocol).
MOTO_SERVER   := $(VENV)/bin/moto_server
TEST_STAMP    := $(VENV)/.test-tools-1
TEST_PIP      := 'moto[server]==5.2.5' 'PyJWT[crypto]==2.10.1' 'websockets==15.0.1'
# The browser client's tests drive Debian's Chromium.
CHROMIUM      ?= /usr/bin/chromium
JS            := clients/js

# Package paths Terraform reads (terraform/variables.tf: package_dir).
BUILD    := build
RX_ZIP   := $(BUILD)/rx.zip
HTTP_ZIP := $(BUILD)/http.zip

ifeq ($(ARCH),arm64)
  RUST_TARGET := aarch64-unknown-linux-gnu
  ARCH_FLAG   := --arm64
else ifeq ($(ARCH),x86_64)
  RUST_TARGET := x86_64-unknown-linux-gnu
  ARCH_FLAG   := --x86-64
else
  $(error ARCH must be arm64 or x86_64, not '$(ARCH)')
endif

# `make local` builds the gateway with its DynamoDB/SQS/SDK modes only when
# an endpoint asks for them: the default build links no AWS SDK.
ifneq ($(strip $(AWS_ENDPOINT_URL_DYNAMODB)$(AWS_ENDPOINT_URL_SQS)),)
  LOCAL_FEATURES := --features aws
endif

.PHONY: help build build-tools test-tools rust-target sizes local test test-rust test-gateway \
        test-gateway-aws test-js js-deps bench bench-fanout bench-history bench-sharded bench-init \
        bench-broadcast bench-subscribe bench-memory check fmt clippy clean

## help: this list
help:
	@awk '/^## [a-z-]+: /{name = $$2; sub(/:$$/, "", name); desc = $$0; sub(/^## [a-z-]+: /, "", desc); \
	  printf "  make %-18s %s\n", name, desc}' $(MAKEFILE_LIST)

## build: both Lambda packages (build/rx.zip, build/http.zip) for provided.al2023 on $(ARCH) (the default)
# One package per cargo run: built together, Cargo would unify the features
# of channels-aws and link the @connections client into rx as well.
build: build-tools rust-target
	for p in rx http-lambda; do \
	  PATH="$(abspath $(BUILD_VENV))/bin:$$PATH" $(CARGO_LAMBDA) lambda build --release $(ARCH_FLAG) \
	    --output-format zip -p $$p; done
	mkdir -p $(BUILD)
	cp $${CARGO_TARGET_DIR:-target}/lambda/rx/bootstrap.zip $(RX_ZIP)
	cp $${CARGO_TARGET_DIR:-target}/lambda/http/bootstrap.zip $(HTTP_ZIP)
	echo $(ARCH) > $(BUILD)/ARCH
	@echo "built $(RX_ZIP) and $(HTTP_ZIP) for $(ARCH)"

## sizes: each zip's size and the newest glibc symbol its bootstrap needs
sizes:
	@for f in $(RX_ZIP) $(HTTP_ZIP); do \
	  d=$$(mktemp -d); $(PYTHON) -m zipfile -e $$f $$d; \
	  glibc=$$(objdump -T $$d/bootstrap | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1); \
	  printf '%-16s %8d bytes zipped  %9d bytes bootstrap  needs %s  (%s)\n' $$f $$(stat -c %s $$f) \
	    $$(stat -c %s $$d/bootstrap) $$glibc "$$(cat $(BUILD)/ARCH)"; rm -rf $$d; done

## build-tools: cargo-lambda in .venv (what `make` needs; idempotent)
build-tools: $(BUILD_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(BUILD_STAMP): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(BUILD_PIP)
	touch $@

## test-tools: moto, PyJWT and websockets in .venv (what `make test` needs besides; idempotent)
test-tools: $(TEST_STAMP)

$(TEST_STAMP): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(TEST_PIP)
	touch $@

## rust-target: the Rust target of $(ARCH) (rustup target add, if missing)
rust-target:
	@rustup target list --installed | grep -qx $(RUST_TARGET) || rustup target add $(RUST_TARGET)

## local: the whole service on 127.0.0.1 (PORT=, STAGE=, AUTH=none|token); the page at http://127.0.0.1:PORT/
local:
	@cargo run --profile local -p local-gateway $(LOCAL_FEATURES) -- --port $(PORT) --stage $(STAGE) --auth $(AUTH)

## test: every test once: Rust (moto, PyJWT, the provider schema), the gateway's two builds, Terraform, the browser client
test: test-rust test-gateway test-gateway-aws tf-lint test-js

TEST_ENV = MOTO_SERVER="$(abspath $(MOTO_SERVER))" VENV_PYTHON="$(abspath $(VENV))/bin/python" $(TF_SCHEMA_ENV)

## test-rust: every crate's tests but the local gateway's, moto and contract tests included
# The local gateway has two builds below. tf-schema (terraform.mk): the
# hashicorp/aws schema the contract tests check against.
test-rust: test-tools tf-schema
	$(TEST_ENV) cargo test --workspace --exclude local-gateway -- --include-ignored

## test-gateway: the local gateway as `make local` builds it (no AWS SDK): in memory
test-gateway: test-tools
	$(TEST_ENV) cargo test -p local-gateway -- --include-ignored

## test-gateway-aws: the local gateway with feature aws: its moto suites (DynamoDB, SQS, SDK notifier)
test-gateway-aws: test-tools
	$(TEST_ENV) cargo test -p local-gateway --features aws -- --include-ignored moto

## test-js: the browser client: types checked, the committed bundle is the build of the sources, its logic against a fake server and the real gateway, the page in Chromium
test-js: js-deps test-gateway
	target=$$(cd $${CARGO_TARGET_DIR:-target} && pwd); cd $(JS) && npm run typecheck && npm run check-dist && \
	  LOCAL_GATEWAY="$$target/debug/local-gateway" CHROMIUM="$(CHROMIUM)" npm run test:all

## js-deps: the client's pinned npm packages (npm ci from the lockfile); Chromium must be installed
js-deps: $(JS)/node_modules/.package-lock.json

$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund
	@test -x "$(CHROMIUM)" || { echo "make test: $(CHROMIUM) is missing (Debian: apt-get install -y chromium)"; exit 1; }

## bench: every benchmark, one after another (they share two cores badly)
bench: bench-fanout bench-history bench-sharded bench-init bench-broadcast bench-subscribe bench-memory

## bench-fanout: one invocation's fan-out through the real SDK client to a loopback server
bench-fanout:
	cargo bench -p channels-aws --bench fanout

## bench-history: a publish to a 1-member channel with history on vs off, DynamoDB adapter at moto (PUBLISHES=)
bench-history: test-tools
	MOTO_SERVER="$(abspath $(MOTO_SERVER))" cargo bench -p channels-aws --bench history

## bench-sharded: the asynchronous publish against a simulated 10,000 requests/s throttle (MEMBERS=)
bench-sharded:
	cargo bench -p channels --bench sharded

## bench-broadcast: the local gateway's fan-out to 10,000 WebSocket clients (half lrw.v1) vs a bare broadcast (CLIENTS=)
bench-broadcast:
	cargo bench --profile local -p local-gateway --bench broadcast

## bench-subscribe: an lrw.v1 subscribe round trip vs an echo round trip on the local gateway, in memory
bench-subscribe:
	cargo bench --profile local -p local-gateway --bench subscribe

## bench-memory: the local gateway's resident memory before, at the peak of and 10 s after a hostile flood, vs its unhardened settings
bench-memory:
	cargo bench --profile local -p local-gateway --bench memory

## bench-init: cold starts of the real bootstrap binaries (rx, http, commands, worker, presence) against hello world (RUNS=20)
RUNS ?= 20
bench-init:
	cargo build --release -p rx
	cargo build --release -p http-lambda
	cargo build --release -p coldstart
	@t=$${CARGO_TARGET_DIR:-target}/release; $$t/coldstart --runs $(RUNS) --hello $$t/hello --rx $$t/rx --http $$t/http

## check: cargo fmt --check and clippy -D warnings (every feature)
check: fmt clippy

## fmt: cargo fmt --check on the workspace
fmt:
	cargo fmt --all -- --check

## clippy: clippy on every crate, target and feature, warnings as errors
clippy:
	cargo clippy --workspace --all-targets --all-features -- -D warnings

## clean: the packages and cargo-lambda's output
clean:
	rm -rf $(BUILD) target/lambda

# --- Terraform checks and the diagram (terraform/, img/) -----------------------
include terraform.mk
