# The two set-up commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system lint format clean-db vendor fixtures bench bench-quick bench-tools bench-lookup bench-maps

setup: system $(STAMP)

# Debian packages (python3-venv, PostgreSQL, PostGIS): checked on every run, installed when missing.
system:
	@scripts/ensure-system.sh

# Order-only on `system`: the venv needs python3-venv, but the check itself must not force a reinstall.
$(STAMP): pyproject.toml | system
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/gridmap run

# A throwaway PostGIS is started by the test session (tests/conftest.py) and stopped after it,
# also when tests fail; set GRIDMAP_TEST_DATABASE_URL to use a server of your own instead.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The megacity benchmark (bench/README.md): generates the city, loads it into a fresh embedded PostGIS
# of its own and measures every path against a baseline from the same run. Not part of `make test`.
bench: setup bench-tools
	$(BIN)/python bench/megacity.py --scale 1

bench-quick: setup bench-tools
	$(BIN)/python bench/megacity.py --scale 0.05

# wrk drives the single-lookup load (a Python client would be the bottleneck); from Debian when missing.
bench-tools:
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get install -y -q wrk; else sudo apt-get install -y -q wrk; fi; } || echo "wrk unavailable: the single-lookup load falls back to a Python client"

# Lookup throughput and batch speed as ratios against baselines measured in the same run (not a test).
bench-lookup: setup
	$(BIN)/python bench/lookup.py

# Map render time and size, vector tile time against the bare ST_AsMVT query (not a test).
bench-maps: setup
	$(BIN)/python bench/maps.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Apply the formatter and the fixable lint rules.
format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Stop the embedded database and delete it (the demo city is loaded again on the next `make run`).
clean-db: setup
	-$(BIN)/gridmap db stop
	rm -rf .gridmap/pg

# Rebuild the demo city from ../shared/data (the output in fixtures/minzhi is committed).
fixtures: setup
	$(BIN)/python fixtures/build_minzhi.py

# Refresh vendored front-end assets from the npm registry.
vendor:
	rm -rf /tmp/gridmap-vendor && mkdir -p /tmp/gridmap-vendor
	cd /tmp/gridmap-vendor && npm install --silent --no-audit --no-fund swagger-ui-dist@5.35.0 leaflet@1.9.4 leaflet.heat@0.2.0 @geoman-io/leaflet-geoman-free@2.20.2 maplibre-gl@5.24.1 chart.js@4.6.2 gcoord@1.0.7
	cp /tmp/gridmap-vendor/node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} static/vendor/swagger-ui/
	mkdir -p static/vendor/leaflet
	cp -r /tmp/gridmap-vendor/node_modules/leaflet/dist/{leaflet.js,leaflet.css,images} /tmp/gridmap-vendor/node_modules/leaflet/LICENSE static/vendor/leaflet/
	mkdir -p static/vendor/leaflet.heat
	cp /tmp/gridmap-vendor/node_modules/leaflet.heat/{dist/leaflet-heat.js,LICENSE} static/vendor/leaflet.heat/
	mkdir -p static/vendor/leaflet-geoman
	cp /tmp/gridmap-vendor/node_modules/@geoman-io/leaflet-geoman-free/{dist/leaflet-geoman.min.js,dist/leaflet-geoman.css,LICENSE} static/vendor/leaflet-geoman/
	sed -i '/^\/\/# sourceMappingURL=/d' static/vendor/leaflet-geoman/leaflet-geoman.min.js  # the map is not vendored
	mkdir -p static/vendor/maplibre-gl static/vendor/chart.js static/vendor/gcoord
	cp /tmp/gridmap-vendor/node_modules/maplibre-gl/dist/{maplibre-gl-csp.js,maplibre-gl-csp-worker.js,maplibre-gl.css} /tmp/gridmap-vendor/node_modules/maplibre-gl/LICENSE.txt static/vendor/maplibre-gl/
	cp /tmp/gridmap-vendor/node_modules/chart.js/{dist/chart.umd.min.js,LICENSE.md} static/vendor/chart.js/
	cp /tmp/gridmap-vendor/node_modules/gcoord/{dist/gcoord.global.prod.js,LICENSE} static/vendor/gcoord/
	sed -i '/^\/\/# sourceMappingURL=/d' static/vendor/maplibre-gl/*.js static/vendor/chart.js/*.js static/vendor/gcoord/*.js
