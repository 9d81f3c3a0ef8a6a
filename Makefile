# lambda-rust-websocket
#   make            build both Lambda packages (build/rx.zip, build/http.zip)
#   make local      run the whole service on 127.0.0.1 (PORT=, STAGE=, AUTH=none|token)
#   make test       every test: unit, handler, adapter (moto), gateway, terraform checks
#   make bench      benchmarks (loopback only): fan-out, sharded publish, cold start, local broadcast
#   make bench-init cold start of rx and http against a hello-world Lambda (RUNS=20)
#   make check      cargo fmt --check and clippy -D warnings
#   make setup      install the tools the other targets need (idempotent)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

ARCH  ?= arm64
PORT  ?= 8080
STAGE ?= staging
AUTH  ?= none

# Tools live in a project-local virtualenv; nothing is installed globally.
VENV         := .venv
PYTHON       ?= python3
CARGO_LAMBDA := $(VENV)/bin/cargo-lambda
MOTO_SERVER  := $(VENV)/bin/moto_server
TOOLS_STAMP  := $(VENV)/.tools-2
# PyJWT: an independent JOSE implementation the token tests verify against.
PIP_TOOLS    := cargo-lambda==1.9.2 'moto[server]==5.2.5' 'PyJWT[crypto]==2.10.1'

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

.PHONY: build setup rust-target local test test-rust bench bench-fanout bench-sharded bench-init bench-broadcast check fmt clippy sizes clean

## build: both Lambda packages for provided.al2023 on $(ARCH)
# One package per cargo run: built together, Cargo would unify the features
# of channels-aws and link the @connections client into rx as well.
build: setup rust-target
	for p in rx http-lambda; do \
	  PATH="$(abspath $(VENV))/bin:$$PATH" $(CARGO_LAMBDA) lambda build --release $(ARCH_FLAG) \
	    --output-format zip -p $$p; done
	mkdir -p $(BUILD)
	cp $${CARGO_TARGET_DIR:-target}/lambda/rx/bootstrap.zip $(RX_ZIP)
	cp $${CARGO_TARGET_DIR:-target}/lambda/http/bootstrap.zip $(HTTP_ZIP)
	echo $(ARCH) > $(BUILD)/ARCH
	@echo "built $(RX_ZIP) and $(HTTP_ZIP) for $(ARCH)"

## sizes: size of each zip and the highest glibc symbol version each binary needs
sizes:
	@for f in $(RX_ZIP) $(HTTP_ZIP); do \
	  d=$$(mktemp -d); $(PYTHON) -m zipfile -e $$f $$d; \
	  glibc=$$(objdump -T $$d/bootstrap | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1); \
	  printf '%-16s %8d bytes zipped  %9d bytes bootstrap  needs %s  (%s)\n' $$f $$(stat -c %s $$f) \
	    $$(stat -c %s $$d/bootstrap) $$glibc "$$(cat $(BUILD)/ARCH)"; rm -rf $$d; done

setup: $(TOOLS_STAMP)

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PIP_TOOLS)
	touch $@

rust-target:
	@rustup target list --installed | grep -qx $(RUST_TARGET) || rustup target add $(RUST_TARGET)

## local: the whole service on 127.0.0.1 with the embedded in-memory store
local:
	@cargo run --profile local -p local-gateway -- --port $(PORT) --stage $(STAGE) --auth $(AUTH)

## test: everything, including the tests that need moto_server
test: setup test-rust tf-check

# tf-schema (terraform.mk): the hashicorp/aws schema the contract tests check against.
test-rust: setup tf-schema
	MOTO_SERVER="$(abspath $(MOTO_SERVER))" VENV_PYTHON="$(abspath $(VENV))/bin/python" $(TF_SCHEMA_ENV) \
	  cargo test --workspace -- --include-ignored

## bench: every benchmark, one after another (they share two cores badly)
bench: bench-fanout bench-sharded bench-init bench-broadcast

## bench-fanout: one invocation's fan-out through the real SDK client to a loopback server
bench-fanout:
	cargo bench -p channels-aws --bench fanout

## bench-sharded: the asynchronous publish against a simulated 10,000 requests/s throttle (MEMBERS=)
bench-sharded:
	cargo bench -p channels --bench sharded

## bench-broadcast: the local gateway's fan-out to 10,000 WebSocket clients vs a bare broadcast (CLIENTS=), built as make local builds it
bench-broadcast:
	cargo bench --profile local -p local-gateway --bench broadcast

## bench-init: cold starts of the real bootstrap binaries (built for this machine) against hello world
RUNS ?= 20
bench-init:
	cargo build --release -p rx
	cargo build --release -p http-lambda
	cargo build --release -p coldstart
	@t=$${CARGO_TARGET_DIR:-target}/release; $$t/coldstart --runs $(RUNS) --hello $$t/hello --rx $$t/rx --http $$t/http

check: fmt clippy

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(BUILD) target/lambda

# --- Terraform checks and the diagram (terraform/, img/) -----------------------
include terraform.mk
