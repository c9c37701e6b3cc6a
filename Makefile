# MoT Assist: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE ?= $(HOME)/.cache/mot-assist
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-12)
VENV ?= $(CACHE)/venv-$(LOCK_HASH)
PYTHON := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# Rasa 3.6's dependencies print pages of deprecation warnings; keep the logs readable.
export PYTHONWARNINGS := ignore::DeprecationWarning,ignore::PendingDeprecationWarning

.PHONY: help install python up test test-unit check lint typecheck train index validate \
        rasa-validate rasa-test bench bench-nlu lock clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.complete: requirements.lock scripts/install-venv.sh
	@scripts/install-venv.sh $(VENV)

/usr/bin/chromium:
	@echo "install: Debian's chromium (for the browser tests)"
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium >/dev/null; else sudo apt-get install -y chromium; fi

WEBCHAT_JS := $(CACHE)/rasa-webchat-1.0.1/index.js
$(WEBCHAT_JS):
	@echo "install: the public rasa-webchat 1.0.1 widget (npm pack), for the widget test"
	@mkdir -p $(dir $@) && cd $(dir $@) && npm pack --silent rasa-webchat@1.0.1 >/dev/null && \
	  tar xzf rasa-webchat-1.0.1.tgz package/lib/index.js && mv package/lib/index.js index.js && \
	  rm -rf package rasa-webchat-1.0.1.tgz

install: $(VENV)/.complete ## create the venv from requirements.lock (cached by its hash)

python: install ## print the venv's python (for other commands, e.g. python -m desk users list)
	@echo $(PYTHON)

up: install ## start the whole assistant (train and index when stale); Ctrl-C stops it
	@$(PYTHON) -m bot up

# The scale-out tests use this machine's PostgreSQL, Redis and RabbitMQ; the article store's
# contract tests get a database of their own (they drop its tables).
TEST_PG_DB := mot_kb_test
test: export MOT_TEST_POSTGRES_URL := postgresql+asyncpg://postgres@127.0.0.1:5432/$(TEST_PG_DB)
test: install /usr/bin/chromium $(WEBCHAT_JS) ## run the whole test suite (rasa test stories, then unit, integration, e2e, browser)
	@psql -h 127.0.0.1 -U postgres -d test -tAc "SELECT 1 FROM pg_database WHERE datname='$(TEST_PG_DB)'" \
	  | grep -q 1 || psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $(TEST_PG_DB)"
	@$(PYTHON) -m bot train
	@$(MAKE) --no-print-directory rasa-test
	@$(PYTHON) -m pytest

test-unit: install ## only the fast unit tests
	@$(PYTHON) -m pytest tests/unit

check: lint typecheck ## lint and type-check
lint: install
	@$(PYTHON) -m ruff check .
typecheck: install
	@$(PYTHON) -m mypy

train: install ## train the Rasa model if its inputs changed
	@$(PYTHON) -m bot train

index: install ## build the knowledge index if the articles changed
	@$(PYTHON) -m bot index

validate: install ## check the catalogue, the articles and the Rasa data
	@$(PYTHON) -m bot validate
	@$(PYTHON) -m bot generate --check
	@$(MAKE) --no-print-directory rasa-validate

rasa-validate: install
	@$(PYTHON) -m rasa data validate --config config.yml --domain bot/domain --data bot/data \
	  --fail-on-warnings

rasa-test: install rasa-validate ## `rasa data validate`, then the dialogue stories with `rasa test core`
	@$(PYTHON) -m bot train >/dev/null
	@$(PYTHON) -m rasa test core --endpoints tests/stories/endpoints.yml --model $(CACHE)/models/$$($(PYTHON) -c 'from bot.build import model_key; print(model_key())').tar.gz \
	  --stories tests/stories --out .mot/rasa-test --fail-on-prediction-errors

bench: install ## benchmarks: retrieval, index latency, publish-to-live, one-message encode, turn cost, desk, moments dashboard, first turns, typed answers to the clarifying question, two problems in one message (results in bench/results)
	@$(PYTHON) -m bench

bench-nlu: install ## NLU benchmark on BANKING77 and CLINC150 (results in bench/results)
	@$(PYTHON) -m bench.nlu

lock: ## re-resolve pyproject.toml's dependencies into requirements.lock
	@scripts/lock.sh

clean: ## remove the local data directory (.mot); the cached venv and models stay
	rm -rf .mot
