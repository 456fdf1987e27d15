# crypto-news: the interface ops and CI rely on.
#   make setup        install into .venv (leaves .venv/bin/crypto-news)
#   make run [FEEDS=file]   ensure a database, migrate, run the daily DAG once through Airflow, print the summary
#   make test         set up and run the whole test suite
#   make lint         ruff (pyflakes, pycodestyle, bugbear, import order, complexity; Airflow rules on dags/), mypy
#   make db-stop      stop the embedded PostgreSQL cluster under .local/
#   make bench [BENCH_ARGS=...]   end-to-end benchmark against the extraction limit (docs/PERFORMANCE.md)
#   make test-distributed   the daily DAG on real Airflow components: CeleryExecutor, two workers (docs/AIRFLOW.md)
#   make train        rebuild the classifier model from data/labels and ../shared (deterministic; docs/LABELS.md)
#   make evaluate-classifier   10-fold cross-validation, learning curve and dev-set figures (docs/LABELS.md)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FEEDS ?= config/feeds.yml
PYTEST_ARGS ?=

.PHONY: setup run test db-stop lint
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 2> >(grep -v ' is ignored' >&2)
	$(BIN)/uv pip install -q --native-tls --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@touch $(STAMP)
	@echo "installed: $(BIN)/crypto-news"

run: setup
	$(BIN)/crypto-news airflow-run --feeds "$(FEEDS)"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

db-stop:
	@if [ -x $(BIN)/crypto-news ]; then $(BIN)/crypto-news db stop; else echo "nothing to stop (no .venv)"; fi

lint: setup
	$(BIN)/ruff check plugins dags tests scripts
	$(BIN)/ruff check --select AIR dags/
	$(BIN)/python -m mypy plugins/crypto_news dags

# Real scheduler, dag-processor, api-server and two Celery workers on this machine; needs PostgreSQL
# (CRYPTO_NEWS_TEST_PG) and Redis (CRYPTO_NEWS_TEST_REDIS, database CRYPTO_NEWS_TEST_REDIS_DB, default 13).
.PHONY: test-distributed
test-distributed: setup
	CRYPTO_NEWS_DISTRIBUTED=1 $(BIN)/python -m pytest tests/distributed -p no:cacheprovider $(PYTEST_ARGS)

# The classifier's model: rebuilt from the label files and the item text in ../shared (docs/LABELS.md).
.PHONY: train evaluate-classifier
train: setup
	$(BIN)/python -m crypto_news.classify.train

evaluate-classifier: setup
	$(BIN)/python scripts/evaluate_classifier.py

# Needs PostgreSQL (CRYPTO_NEWS_TEST_PG) and ../shared/corpora; prints a table and, last, one JSON line.
BENCH_ARGS ?=
.PHONY: bench
bench: setup
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
