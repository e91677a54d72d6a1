PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/rewardsmith demo --out out

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/advantages.py

clean:
	rm -rf $(VENV) out build dist .pytest_cache
