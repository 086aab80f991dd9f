# The two commands of the README, and what they need.
#   make drill   set up, bring the stack up, check it through the edge, tear down
#   make test    set up (engine, images), then every test, unit and integration
VENV   ?= .venv
DRILL  := $(VENV)/bin/drill
PYTEST := $(VENV)/bin/pytest
STAMP  := $(VENV)/.installed

.PHONY: setup images drill test unit clean lint

$(STAMP): pyproject.toml scripts/setup-venv.sh
	@scripts/setup-venv.sh $(VENV)
	@touch $(STAMP)

setup: $(STAMP)

images: setup
	$(DRILL) images

drill: images
	$(DRILL) smoke

test: lint images
	$(PYTEST) tests

unit: setup
	$(PYTEST) tests -m "not integration"

lint: setup
	$(VENV)/bin/ruff check chaos tests bench
	$(VENV)/bin/mypy chaos

clean: setup
	$(DRILL) clean
