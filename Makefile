# Every install step lives here: `make test` / `make demo` / `make bench` work from a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# quickfix ships as C++ source only; these flags halve its compile time (see ../shared/research/FIX_NOTES.md)
export CXXFLAGS ?= -DNDEBUG -O1 -g0 -fwrapv
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench crash study clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/dark-agg demo --out out/demo

bench: $(STAMP)
	$(BIN)/python -m bench

# the long form of the crash test: SIGKILL the engine 100 times during a flow of parents (about 6 min)
KILLS ?= 100
crash: $(STAMP)
	$(BIN)/python -m tests.crash --kills $(KILLS) --out out/crash

clean:
	rm -rf $(VENV) out .pytest_cache
