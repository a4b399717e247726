"""Leaflet and its plugins from ``static/vendor/`` instead of folium's CDN links.

Two modes: ``link`` points at the server's ``/static/vendor/…`` (a map served by the API), ``inline``
embeds the files (a map written to disk opens anywhere, offline, with no server). Leaflet's CSS refers
to its images relatively; inlined, they become data: URIs."""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

import folium
from branca.element import Element

VENDOR = Path(__file__).resolve().parents[3] / "static" / "vendor"
STATIC_URL = "/static/vendor"
# name → path under static/vendor
SCRIPTS = {"leaflet": "leaflet/leaflet.js", "leaflet-heat": "leaflet.heat/leaflet-heat.js"}
STYLES = {"leaflet": "leaflet/leaflet.css"}


@cache
def _inline_css(path: str) -> str:
    folder = (VENDOR / path).parent
    css = (VENDOR / path).read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        image = folder / match.group(1)
        if not image.is_file():
            return match.group(0)
        return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()})"

    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", data_uri, css)


@cache
def _inline_js(path: str) -> str:
    # "</script" inside a script would end it early; the vendored files contain none, but be sure.
    return (VENDOR / path).read_text(encoding="utf-8").replace("</script", "<\\/script")


def use_vendored(m: folium.Map, mode: str, scripts: tuple[str, ...] = ("leaflet",)) -> None:
    """Drop folium's CDN assets from ``m`` (Leaflet, jQuery, Bootstrap, Font Awesome) and load
    ``scripts`` (plus Leaflet's CSS) from the vendored copies, linked or inline."""
    if mode not in ("link", "inline"):
        raise ValueError(f"asset mode must be link or inline; got {mode!r}")
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    # Browsers ask for /favicon.ico by themselves; an empty icon keeps a file map from even trying.
    header.add_child(Element('<link rel="icon" href="data:,">'), name="gridmap_favicon")
    for name, path in STYLES.items():
        tag = (f'<link rel="stylesheet" href="{STATIC_URL}/{path}"/>' if mode == "link"
               else f"<style>{_inline_css(path)}</style>")  # fmt: skip
        header.add_child(Element(tag), name=f"gridmap_css_{name}")
    for name in scripts:
        path = SCRIPTS[name]
        tag = (f'<script src="{STATIC_URL}/{path}"></script>' if mode == "link"
               else f"<script>{_inline_js(path)}</script>")  # fmt: skip
        header.add_child(Element(tag), name=f"gridmap_js_{name}")
