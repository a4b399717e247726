#!/usr/bin/env bash
# Install what gridmap needs from Debian when it is missing: python3-venv, PostgreSQL and a PostGIS
# matching the installed server, Chromium and a CJK font (fonts-noto-cjk) for the UI tests, GDAL's tools (gdal-bin) for the OGC round
# trip. Uses sudo when not root.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi
fi

need=()
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=("python3-venv")

server_version() {
  ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n 1
}
ver="$(server_version || true)"
if [ -z "$ver" ]; then
  need+=("postgresql")
fi
if [ -n "$ver" ] && [ ! -f "/usr/share/postgresql/$ver/extension/postgis.control" ]; then
  need+=("postgresql-$ver-postgis-3")
fi

# The UI tests drive Debian's Chromium through Playwright (never a downloaded browser).
[ -x /usr/bin/chromium ] || need+=("chromium")

# GDAL's command-line tools: tests/publish/test_ogc_round_trip.py reads the OGC API with ogr2ogr as a GIS client.
command -v ogr2ogr >/dev/null 2>&1 || need+=("gdal-bin")

# A CJK font, so the consoles and the screenshots show Chinese rather than boxes.
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=("fonts-noto-cjk")

if [ ${#need[@]} -eq 0 ]; then exit 0; fi

if [ "$SUDO" = "__none__" ]; then
  echo "gridmap needs these Debian packages and cannot install them (not root, no sudo):" >&2
  echo "  apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
if ! $SUDO apt-get install -y -qq "${need[@]}" >&2; then
  echo "could not install: ${need[*]}. Install them by hand: apt-get install ${need[*]}" >&2
  exit 1
fi

# A server installed just now: PostGIS for its version.
ver="$(server_version || true)"
if [ -n "$ver" ] && [ ! -f "/usr/share/postgresql/$ver/extension/postgis.control" ]; then
  pkg="postgresql-$ver-postgis-3"
  echo "installing $pkg" >&2
  $SUDO apt-get install -y -qq "$pkg" >&2 || { echo "could not install $pkg: apt-get install $pkg" >&2; exit 1; }
fi
