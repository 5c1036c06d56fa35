# auditbench: `make run` runs the default audit, `make test` runs the tests.
# Both create .venv on first use (a few minutes: PyTorch is large) and reuse it after.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.auditbench-installed
SUITE ?= default

.PHONY: run test quick lint browser clean-venv

run: $(STAMP)
	$(VENV)/bin/auditbench run --suite $(SUITE)

quick: $(STAMP)
	$(VENV)/bin/auditbench run --suite quick

test: $(STAMP) browser
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The pinned PyTorch pair first, through the constraints file, then the project and its dev
# extras under the same constraints. The stamp is rewritten when either file changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt torch torchvision
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Headless Chromium for the report's browser test (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the report test"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq chromium >/dev/null; }

clean-venv:
	rm -rf $(VENV)
