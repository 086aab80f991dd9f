# The two commands of the README, and what they need.
#   make drill   set up, then the default suite (every scenario of scenarios/) on the
#                real stack, one after another, and a report (HTML, Markdown, JUnit)
#   make test    set up (engine, images, headless Chromium), then every test
# Also: make unit (the tests that need no Docker); make mutation (mutmut over the pure
#       measurement, loss and compose-variable logic against the unit tests, about 3 min, no Docker; fails on a
#       surviving mutant not listed in tests/mutation-equivalents.md; not part of make test)
# Knobs: make drill SCALE=1 (the scenarios' own times; default 0.5: about 10 min)
#        make drill SCENARIOS="scenarios/baseline.yaml scenarios/datacentre-shutdown.yaml"
VENV   ?= .venv
DRILL  := $(VENV)/bin/drill
PYTEST := $(VENV)/bin/pytest
STAMP  := $(VENV)/.installed
SCALE     ?= 0.5
SCENARIOS ?= scenarios/

.PHONY: setup images browser drill smoke test unit mutation clean lint

$(STAMP): pyproject.toml scripts/setup-venv.sh
	@scripts/setup-venv.sh $(VENV)
	@touch $(STAMP)

setup: $(STAMP)

images: setup
	$(DRILL) images

browser:
	@scripts/setup-browser.sh

drill: images
	$(DRILL) run $(SCENARIOS) --time-scale $(SCALE)

smoke: images
	$(DRILL) smoke

test: lint images browser
	$(PYTEST) tests --durations=15

unit: setup
	$(PYTEST) tests -m "not integration"

mutation: setup
	$(VENV)/bin/python scripts/mutation.py

lint: setup
	$(VENV)/bin/ruff check chaos tests bench examples
	$(VENV)/bin/mypy chaos

clean: setup
	$(DRILL) clean
