# Every install step lives here: `make test` / `make demo` / `make bench` work from a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# quickfix ships as C++ source only. It is built here with OpenSSL (TLS sessions: HAVE_SSL, linked
# with libssl/libcrypto; --no-as-needed because the link line names the libraries before the objects)
# and with flags that halve its compile time (../shared/research/FIX_NOTES.md), once per machine, into
# a wheelhouse of its own: pip's cache may hold a wheel of the same version built without SSL.
QUICKFIX   := quickfix==1.16.0
export CXXFLAGS ?= -DNDEBUG -O1 -g0 -fwrapv
WHEELHOUSE ?= $(HOME)/.cache/dark-aggregator/quickfix-1.16.0-ssl
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench crash study clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools

$(WHEELHOUSE)/.built: | $(BIN)/python
	CPPFLAGS=-DHAVE_SSL=1 LDFLAGS="-Wl,--no-as-needed -lssl -lcrypto" \
	  $(BIN)/pip wheel --quiet --no-binary quickfix --no-cache-dir --no-deps $(QUICKFIX) -w $(WHEELHOUSE)
	touch $@

$(STAMP): pyproject.toml $(WHEELHOUSE)/.built | $(BIN)/python
	$(BIN)/pip install --quiet --no-deps --force-reinstall $(WHEELHOUSE)/quickfix-*.whl
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m engine.fix.tls_support  # fails unless the quickfix in use really speaks TLS
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# `make demo MARKET=config/markets/lse_toxic.yaml`: the toxicity-aware engine beside a fill-only one
demo: $(STAMP)
	$(BIN)/dark-agg demo --out out/demo $(if $(MARKET),--market $(MARKET))

bench: $(STAMP)
	$(BIN)/python -m bench

# the long form of the crash test: SIGKILL the engine 100 times during a flow of parents (about 6 min)
KILLS ?= 100
crash: $(STAMP)
	$(BIN)/python -m tests.crash --kills $(KILLS) --out out/crash

clean:
	rm -rf $(VENV) out .pytest_cache
