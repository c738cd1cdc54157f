# Replydesk: `make run` serves on 127.0.0.1:8080, `make test` runs the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/replydesk
STAMP := $(VENV)/.installed
CONFIG ?= config.toml
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-postgres bench soak clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip wheel
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

$(CONFIG): | $(STAMP)
	$(CLI) --config $(CONFIG) init

run: $(STAMP) $(CONFIG)
	$(CLI) --config $(CONFIG) db upgrade
	$(CLI) --config $(CONFIG) serve

test: system-deps test-sqlite test-postgres

# Real servers the tests run against, from Debian's packages (installed once, as root).
system-deps:
	@{ command -v dovecot && command -v chromium; } >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd chromium; }

test-sqlite: $(STAMP)
	$(PY) -m pytest

test-postgres: $(STAMP)
	REPLYDESK_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

# 10,000 inbound messages through 2 hub processes on PostgreSQL, one killed at random and restarted.
soak: $(STAMP)
	REPLYDESK_SOAK_DATABASE_URL=$(PG_TEST_URL) $(PY) -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache
