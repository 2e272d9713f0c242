# The README's two commands: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export DJANGO_DEBUG ?= 1
DEMO_PORT ?= 8000
# Links in the emails the demo sends (seed and worker alike) point at the port the demo serves on.
export SITE_URL ?= http://127.0.0.1:$(DEMO_PORT)
PYTEST_ARGS ?=
# Extra pip options for the install, e.g. a local wheelhouse: PIP_INSTALL_OPTS="--no-index --find-links DIR" (.ci/run).
PIP_INSTALL_OPTS ?=

.PHONY: install demo seed serve test test-nodb test-db check lint format bench clean-var chromium docker-compose screenshots focus-validator

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "finops needs Python >= 3.11 (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(PIP_INSTALL_OPTS) --upgrade pip
	$(PIP) install --quiet $(PIP_INSTALL_OPTS) -e '.[dev]'
	test -f .env || printf '# Local development only (make install). Production sets its own environment.\nDJANGO_DEBUG=1\n' > .env
	touch $(STAMP)

install: $(STAMP)

# Install, migrate, seed the demo organizations, then run web + Celery worker + beat (Ctrl-C stops all).
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	@echo ""
	@echo "finops demo: http://127.0.0.1:$(DEMO_PORT)/  (logins printed above; Ctrl-C stops web, worker and beat)"
	@echo ""
	DEMO_PORT=$(DEMO_PORT) SITE_URL=$(SITE_URL) $(VENV)/bin/honcho -f Procfile start

# Browser tests drive Debian's chromium; install it through apt when missing (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium \
	  || echo "WARNING: chromium not installed: browser tests skip (and fail under FINOPS_REQUIRE_BROWSER=1)"; }

# The deploy layout's test checks deploy/compose.yaml with docker-compose (it reads the file; no engine needed).
docker-compose:
	@command -v docker-compose >/dev/null || { echo "Installing Debian's docker-compose for the deploy layout test"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y docker-compose \
	  || echo "WARNING: docker-compose not installed: the deploy layout test will fail"; }

# The README's screenshots (docs/screenshots/): a small demo in a temporary var dir, served and shot at 1440 px.
screenshots: install chromium
	$(PY) scripts/screenshots.py

# The FinOps Foundation's FOCUS validator in its own virtualenv (.venv-focus; cached wheelhouse after the first run):
# the FOCUS export's tests run it and fail without it.
focus-validator:
	.ci/focus-validate install

check: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

# The whole suite on the configured database (DATABASE_URL, default SQLite).
test: check chromium docker-compose focus-validator
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The CI's lanes (.ci/run): the tests that use no database (marked ``nodb`` by tests/conftest.py) run once,
# the others once per database. Together they are exactly `make test`.
test-nodb: check docker-compose focus-validator
	$(VENV)/bin/pytest -m nodb $(PYTEST_ARGS)

test-db: install chromium focus-validator
	$(VENV)/bin/pytest -m "not nodb" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/ingest.py

clean-var:
	rm -rf var/
