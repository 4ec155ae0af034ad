# hegui — two commands: `make run` (the gateway) and `make test` (everything, from a fresh machine).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages that tests need: Chromium (console and report tests), exiftool and ffmpeg/ffprobe
# (independent readers for the labelling tests).
DEB_PACKAGES := chromium fonts-noto-cjk libimage-exiftool-perl libarchive-zip-perl ffmpeg
PG_HOST ?= 127.0.0.1

.PHONY: run test venv system-deps postgres lint models bench clean

venv: $(STAMP)

# setup.py builds the C extension (src/hegui/_native.c) in place; a change to it reinstalls.
$(STAMP): pyproject.toml setup.py src/hegui/_native.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Install missing Debian packages (CI runs as root on a clean clone).
system-deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Start the local PostgreSQL server if it is not answering (the storage tests run on it too).
postgres:
	@if ! pg_isready -h $(PG_HOST) -p 5432 -q 2>/dev/null; then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	  for i in $$(seq 1 30); do pg_isready -h $(PG_HOST) -p 5432 -q && break; sleep 1; done; \
	fi
	@psql -h $(PG_HOST) -U postgres -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw test || \
	  createdb -h $(PG_HOST) -U postgres test 2>/dev/null || true

lint: venv
	$(VENV)/bin/ruff check src tests bench scripts

test: venv system-deps postgres
	$(VENV)/bin/ruff check src tests bench scripts
	HEGUI_REQUIRE_NATIVE=1 $(VENV)/bin/pytest -q -p no:cacheprovider

run: venv
	mkdir -p var
	$(VENV)/bin/hegui serve --host $${HEGUI_HOST:-127.0.0.1} --port $${HEGUI_PORT:-8000}

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build dist src/*.egg-info src/hegui/*.so
