# Two commands are the contract (README.md): `make reproduce` and `make test`.
# Each creates .venv and installs the pinned lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The optional extra `peers` (requirements/peers.txt), installed over the lock by `make peers`.
PEERS_STAMP := $(VENV)/.peers-stamp
# torch is pinned and installed first, on its own: the lab machines hold a CPU wheel of 2.13.0 on
# disk that `pip install torch==2.13.0` takes, whereas an unpinned torch (asked for by any other
# package) makes pip download a CUDA build of several GB. GPU users: see README.md.
TORCH := torch==2.13.0

.PHONY: reproduce test test-fast lint typecheck lab lock peers clean

# The last step installs the notebooks' kernel, "asrlab": this venv's python, whoever starts
# Jupyter (papermill too).
$(STAMP): pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -r requirements/lock.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name asrlab --display-name "asrlab (.venv)"
	touch $@

reproduce: $(STAMP)
	$(BIN)/asrlab reproduce

# faster-whisper-server, the peer deployment `asrlab drive` is compared with (pyproject's extra
# `peers`): the lock as constraints, so it adds its own packages and moves none of the lock's.
# `make test` installs it (tests/endpoint/test_peer.py); reproduce and test-fast never need it.
$(PEERS_STAMP): $(STAMP) requirements/peers.txt
	$(BIN)/pip install --quiet -c requirements/lock.txt -r requirements/peers.txt
	touch $@

peers: $(PEERS_STAMP)

# The whole suite: what CI runs (.ci/run) and what an issue is closed on.
test: $(STAMP) $(PEERS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --durations=25

# The tier to work with: no model, no worker process, no notebook kernel (tests/conftest.py).
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not (model or worker or kernel or slow)"

# JupyterLab on notebooks/, with the asrlab kernel; results go under runs/ (git-ignored).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy on asrlab/ as pyproject.toml's [tool.mypy] says; test and test-fast run it after ruff.
typecheck: $(STAMP)
	$(BIN)/mypy

# Re-pin every dependency from pyproject.toml in a scratch venv (needs the package registry).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet $(TORCH)
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	echo '# Pinned by `make lock` from pyproject.toml (the dev extra; requirements/peers.txt pins the peers extra); torch is the CPU wheel.' \
		> requirements/lock.txt
	.lock-venv/bin/pip freeze --exclude-editable | sed -e 's/^torch==\([0-9.]*\)+.*/torch==\1/' \
		| grep -v '^asrlab' >> requirements/lock.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
