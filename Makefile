# Sieve in two commands (both make or reuse .venv first; see scripts/bootstrap.py):
#   make run     set up, then start the app on http://localhost:8501
#   make test    set up, then run the test suite (python -m pytest)
# Options: make run ARGS="--server.port 8502"; make test ARGS="tests/unit -q";
#          make run PYTHON=python3.12; SIEVE_TORCH=cuda make run (see README).
PYTHON ?= python3
ARGS ?=

.PHONY: run test setup

run:
	@$(PYTHON) scripts/bootstrap.py run $(ARGS)

test:
	@$(PYTHON) scripts/bootstrap.py test $(ARGS)

setup:
	@$(PYTHON) scripts/bootstrap.py setup
