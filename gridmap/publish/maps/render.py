"""Render the four maps with folium: density, incidents, unassigned, overview.

Every map is offline (``gridmap.publish.maps.assets``), passes all text taken from the database through one
escape (``_text``) before it reaches the page (the title, legends, layer names and tooltips: folium and
Leaflet insert those as HTML), simplifies geometry for display and rounds coordinates to 1e-6° (≈ 0.1 m),
which keeps a whole subdistrict's map a few megabytes. It also returns the hashes of its inline scripts,
for a Content-Security-Policy that lets exactly those run."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import folium
import folium.plugins
import mapclassify
import numpy as np
import psycopg
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from gridmap import geojson, sql
from gridmap.areas.hierarchy import area_id_by_code
from gridmap.coords import geometry_from_wgs84
from gridmap.errors import InvalidInput
from gridmap.partition.algorithm import Band
from gridmap.partition.coverage import check
from gridmap.publish.maps.assets import use_vendored

KINDS = ("density", "incidents", "unassigned", "overview")
# Sequential classes, light to dark (ColorBrewer YlOrRd), and alarm colours for coverage problems.
RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
BAND_COLOURS = ("#d9d9d9", "#fdae61", "#1a9641", "#f46d43", "#a50026")  # 0, under, in band, over, far over
ALARM = {"gap": "#e31a1c", "overlap": "#d01c8b", "outside_parent": "#7b3294", "no_community": "#fb9a99",
         "building_unassigned": "#ff7f00", "building_twice": "#ff7f00", "building_elsewhere": "#ff7f00",
         "building_split": "#fdbf6f", "out_of_band": "#ffff33"}  # fmt: skip
OUTLINE = {"subdistrict": ("#000000", 3), "community": ("#2b5797", 2.5), "grid": ("#555555", 1.5),
           "microgrid": ("#999999", 0.6)}  # fmt: skip
M_PER_DEGREE = 111_000


@dataclass(frozen=True)
class MapOptions:
    """What to draw and how. ``assets``: ``inline`` (a file that opens anywhere) or ``link`` (served by
    the API). ``tiles_url``: a base map (none by default); ``tiles_crs`` gcj02 shifts every shape onto
    a Chinese tile service's coordinates. ``incidents``: whether the viewer may see incident layers;
    ``jurisdiction``: the viewer's (``access.jurisdiction_ids``; None: everywhere), the only cases counted."""

    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None
    band: Band = field(default_factory=Band)
    assets: str = "inline"
    tiles_url: str | None = None
    tiles_attribution: str = ""
    tiles_crs: str = "wgs84"
    simplify_m: float = 1.0
    max_features: int = 30_000
    incidents: bool = True
    jurisdiction: list[int] | None = None


@dataclass(frozen=True)
class RenderedMap:
    """The page, how many shapes it holds, how long it took, and the Content-Security-Policy sources
    (``'sha256-…'``) of its inline scripts: a policy allowing just these runs the map and nothing else."""

    html: str
    features: int
    seconds: float
    script_sources: tuple[str, ...]

    @property
    def bytes(self) -> int:
        """Size of the page in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))


@dataclass
class _Area:
    code: str
    name: str
    level: str
    kind: str
    layer: str
    geometry: shapely.Geometry
    households: int
    area_m2: float
    party_cell: str | None
    workers: str | None
    incidents: int
    overdue: int


def render(conn: psycopg.Connection, kind: str, area: str, options: MapOptions = MapOptions()) -> RenderedMap:
    """Render map ``kind`` of area ``area`` (a subdistrict, community or grid code). Raises
    InvalidInput for an unknown kind or a scope too large to draw, NotFound for an unknown code."""
    started = time.perf_counter()
    if kind not in KINDS:
        raise InvalidInput(f"map kind must be one of {', '.join(KINDS)}; got {kind!r}", "kind")
    if kind == "incidents" and not options.incidents:
        raise InvalidInput("incident maps need a role that reads incidents", "kind")
    scope_id = area_id_by_code(conn, area)
    if len(area) == 18:
        raise InvalidInput("draw a grid, community or subdistrict (a micro-grid is one shape)", "area")
    # A viewer who may not read incidents counts none (the shapes still carry a zero), one who may counts
    # only those inside their jurisdiction, as the incidents API lists them.
    params = {"jurisdiction": options.jurisdiction if options.incidents else [],
              "prefix": area, "since": options.since, "until": options.until, "category": options.category,
              "now": datetime.now().astimezone()}  # fmt: skip
    rows = conn.execute(sql.load("map_areas"), params).fetchall()
    areas = [_Area(r[0], r[1], r[2], r[3], r[4], shapely.from_wkb(r[5]), *r[6:]) for r in rows]
    microgrids = [a for a in areas if a.level == "microgrid"]
    if len(microgrids) > options.max_features:
        raise InvalidInput(
            f"{area} has {len(microgrids):,} micro-grids, more than one map draws well ({options.max_features:,});"
            " draw a community, or use the vector tiles (/tiles/microgrids/{z}/{x}/{y}.mvt)", "area")  # fmt: skip
    scope = next(a for a in areas if a.code == area)
    builder = _Builder(options, scope)
    colourings = {
        "density": ["households", "per_km2"],
        "incidents": ["incidents"],
        "unassigned": ["households"],
        "overview": ["households", "per_km2"] + (["incidents"] if options.incidents else []),
    }[kind]
    if microgrids:
        builder.microgrids(microgrids, colourings, detailed=kind == "overview")
    if kind in ("incidents", "overview") and options.incidents:
        points = conn.execute(sql.load("map_incident_points"), params | {"scope": scope_id}).fetchall()
        builder.incidents(points, show=kind == "incidents")
    if kind in ("unassigned", "overview"):
        builder.unassigned(check(conn, area, options.band), show=kind == "unassigned")
    builder.outlines(areas)
    page, scripts = builder.finish(f"{scope.name} ({scope.code})", kind)
    return RenderedMap(page, builder.features, round(time.perf_counter() - started, 3), scripts)


class _Script(MacroElement):
    """JavaScript run after the map and its layers exist (a map child renders after the map)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


def _text(value) -> str:
    """Database text made safe for HTML: the one escape every text of a map page goes through (folium
    and Leaflet put titles, legends, layer names and tooltip values in as markup)."""
    return html.escape("" if value is None else str(value))


class _Builder:
    """One folium map being assembled; counts the shapes drawn."""

    def __init__(self, options: MapOptions, scope: _Area) -> None:
        self.options = options
        self.features = 0
        self.legends: list[tuple[str | None, str]] = []
        self.shown_legend: str | None = None
        self.map = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
        use_vendored(self.map, options.assets, ("leaflet", "leaflet-heat") if options.incidents else ("leaflet",))
        if options.tiles_url:
            folium.TileLayer(options.tiles_url, attr=_text(options.tiles_attribution) or "base map",
                             name="base map", overlay=False).add_to(self.map)  # fmt: skip
        w, s, e, n = self._shape(scope.geometry).bounds
        self.map.fit_bounds([[s, w], [n, e]])

    def _shape(self, geom: shapely.Geometry) -> shapely.Geometry:
        if self.options.tiles_crs != "wgs84":
            geom = geometry_from_wgs84(geom, self.options.tiles_crs)
        return geom

    def _collection(self, items: list[tuple[shapely.Geometry, dict]]) -> dict:
        """A FeatureCollection of simplified, rounded shapes with escaped properties."""
        tolerance = self.options.simplify_m / M_PER_DEGREE
        geoms = np.array([self._shape(g) for g, _ in items], dtype=object)
        if len(geoms):
            geoms = shapely.set_precision(shapely.simplify(geoms, tolerance, preserve_topology=True), 1e-6)
        self.features += len(items)
        return geojson.collection(
            geojson.feature(geom, {k: _text(v) if isinstance(v, str) or v is None else v for k, v in props.items()})
            for geom, (_, props) in zip(geoms, items, strict=True)
        )

    def _layer(self, name: str, items: list, style: dict, tooltip: dict[str, str] | None, show: bool = True,
               overlay: bool = True) -> folium.FeatureGroup:  # fmt: skip
        """A named layer: shapes coloured by their ``_fill`` property (or ``style``), with a tooltip, or
        without one and not catching the mouse (``tooltip`` None: outlines over the micro-grids)."""
        group = folium.FeatureGroup(name=_text(name), show=show, overlay=overlay)
        data = self._collection(items)
        if data["features"]:
            hover = {"tooltip": folium.GeoJsonTooltip(fields=list(tooltip), aliases=list(tooltip.values()),
                                                      sticky=True)} if tooltip else {"interactive": False}  # fmt: skip
            folium.GeoJson(
                data,
                style_function=lambda f, style=style: style | ({"fillColor": f["properties"]["_fill"]}
                                                              if "_fill" in f["properties"] else {}),
                **hover,
            ).add_to(group)  # fmt: skip
        group.add_to(self.map)
        return group

    def _legend(self, key: str | None, title: str, labels: list[str], colours) -> None:
        """A legend block; blocks with a ``key`` show only while their colouring is switched on."""
        pairs = zip(labels, colours, strict=False)
        rows = "".join(f'<div><i style="background:{c}"></i>{_text(t)}</div>' for t, c in pairs)
        data = f' data-key="{key}"' if key else ""
        self.legends.append((key, f'<div class="gm-legend-block"{data}><b>{_text(title)}</b>{rows}</div>'))

    def microgrids(self, microgrids: list[_Area], colourings: list[str], detailed: bool) -> None:
        """Micro-grids drawn once, coloured by one of ``colourings`` (households, per_km2, incidents) at
        a time: a radio switch restyles the same shapes, so the page carries each polygon only once."""
        band = self.options.band
        n = len(microgrids)
        fills: dict[str, tuple[str, list[str]]] = {}  # key → (switch label, fill per micro-grid)
        if "households" in colourings:
            bins = [0, band.lo - 1, band.hi, 2 * band.hi]
            classes, _ = _classes(np.array([m.households for m in microgrids], float),
                                  lambda y: mapclassify.UserDefined(y, bins=bins))  # fmt: skip
            labels = ["0", f"1–{band.lo - 1}", f"{band.lo}–{band.hi} (band)", f"{band.hi + 1}–{2 * band.hi}",
                      f"> {2 * band.hi}"]  # fmt: skip
            fills["households"] = ("households 户数", [BAND_COLOURS[min(c, 4)] for c in classes])
            self._legend("households", "households 户数", labels, BAND_COLOURS)
        per_km2 = [round(m.households / max(m.area_m2, 1.0) * 1e6) for m in microgrids]
        if "per_km2" in colourings:
            classes, labels = _classes(np.array(per_km2, float), lambda y: mapclassify.Quantiles(y, k=5))
            fills["per_km2"] = ("households per km² 户/km²", [RAMP[min(c, 4)] for c in classes])
            self._legend("per_km2", "households per km² (quintiles)", labels, RAMP)
        if "incidents" in colourings:
            classes, labels = _classes(np.array([m.incidents for m in microgrids], float), mapclassify.HeadTailBreaks)
            fills["incidents"] = ("incidents 事件数", [RAMP[min(c, 4)] for c in classes])
            self._legend("incidents", "incidents 事件数 (head/tail breaks)", labels, RAMP)
        tooltip = {"code": "code 编码", "name": "name 名称", "households": "households 户数", "per_km2": "户/km²"}
        if "incidents" in colourings:
            tooltip |= {"incidents": "incidents 事件", "per_100": "per 100 households", "overdue": "overdue 超期"}
        if detailed:
            tooltip |= {"party_cell": "party cell 党小组", "workers": "worker 网格员"}
        items = []
        for i, m in enumerate(microgrids):
            props = {"code": m.code, "name": m.name, "households": m.households, "per_km2": per_km2[i],
                     "incidents": m.incidents, "overdue": m.overdue, "party_cell": m.party_cell, "workers": m.workers,
                     "per_100": round(100 * m.incidents / m.households, 1) if m.households else None}  # fmt: skip
            items.append((m.geometry, props | {f"_{k}": f[i] for k, (_, f) in fills.items()}))
        first = next(iter(fills))
        style = {"weight": 0.5, "color": "#555", "fillOpacity": 0.7}
        data = self._collection(items)
        layer = folium.GeoJson(
            data, name=_text(f"micro-grids 微网格 ({n})"),
            style_function=lambda f: style | {"fillColor": f["properties"].get(f"_{first}", "#ffffff")},
            tooltip=folium.GeoJsonTooltip(fields=list(tooltip), aliases=list(tooltip.values()), sticky=True),
        )  # fmt: skip
        layer.add_to(self.map)
        # One empty base layer per colouring: the layer control shows them as a radio switch.
        for key, (label, _) in fills.items():
            folium.FeatureGroup(name=_text(label), overlay=False, show=key == first).add_to(self.map)
        keys = {_text(label): key for key, (label, _) in fills.items()}
        self.map.add_child(_Script(
            f"{self.map.get_name()}.on('baselayerchange', function (e) {{"
            f" var key = {json.dumps(keys)}[e.name]; if (!key) return;"
            f" {layer.get_name()}.setStyle(function (f) {{ return {{fillColor: f.properties['_' + key]}}; }});"
            " document.querySelectorAll('.gm-legend-block[data-key]').forEach(function (b) {"
            " b.style.display = (b.dataset.key === key) ? '' : 'none'; }); });"
        ))  # fmt: skip
        self.shown_legend = first

    def incidents(self, points: list, show: bool) -> None:
        heat = folium.plugins.HeatMap([[lat, lon] for lon, lat in (self._xy(p) for p in points)],
                                      name="incident heat 事件热力", radius=18, blur=15, min_opacity=0.3,
                                      show=show)  # fmt: skip
        heat.default_js = []  # leaflet-heat comes from static/vendor (gridmap.publish.maps.assets)
        heat.add_to(self.map)
        self.features += len(points)

    def _xy(self, point) -> tuple[float, float]:
        geom = self._shape(shapely.Point(point[0], point[1]))
        return round(geom.x, 6), round(geom.y, 6)

    def unassigned(self, report, show: bool) -> None:
        problems = [p for p in ALARM if report.counts.get(p)]
        for problem in problems:
            found = [f for f in report.findings if f.problem == problem]
            items = [(f.geometry, {"problem": problem, "message": f.message, "_fill": ALARM[problem]}) for f in found]
            style = {"weight": 2, "color": ALARM[problem], "fillOpacity": 0.6}
            tooltip = {"problem": "problem 问题", "message": "detail 说明"}
            self._layer(f"{problem} ({len(found)})", items, style, tooltip, show=show)
        if problems:
            self._legend(None, "coverage problems 覆盖问题", problems, [ALARM[p] for p in problems])
        else:
            self._legend(None, "coverage problems 覆盖问题", ["none found 未发现"], ["#1a9641"])

    def outlines(self, areas: list[_Area]) -> None:
        """Grid, community and subdistrict boundaries on top, unfilled and not catching the mouse (on a
        canvas an outline would otherwise take every hover inside it from the micro-grids below)."""
        for level in ("grid", "community", "subdistrict"):
            chosen = [a for a in areas if a.level == level]
            if not chosen:
                continue
            colour, weight = OUTLINE[level]
            items = [(a.geometry, {"code": a.code}) for a in chosen]
            self._layer(f"{level} outlines", items, {"weight": weight, "color": colour, "fill": False}, None)

    def finish(self, title: str, kind: str) -> tuple[str, tuple[str, ...]]:
        """The page titled ``title`` (database text, escaped here) and its script hashes (see ``_page``)."""
        folium.LayerControl(collapsed=False).add_to(self.map)
        shown = self.shown_legend
        legend = "".join(block.replace("<div", '<div style="display:none"', 1) if key and key != shown else block
                         for key, block in self.legends)  # fmt: skip
        self.map.get_root().html.add_child(Element(
            f'<div class="gm-legend"><div class="gm-title">{_text(title)} · {_text(kind)}</div>{legend}</div>'
            "<style>.gm-legend{position:absolute;bottom:24px;left:10px;z-index:1000;background:#fff;padding:6px 8px;"
            "font:12px sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.4);max-width:260px}"
            ".gm-legend i{display:inline-block;width:14px;height:10px;margin-right:6px;border:1px solid #888}"
            ".gm-title{font-weight:bold;margin-bottom:4px}.gm-legend-block{margin-top:4px}"
            # The heat layer's canvas covers the whole map: let the mouse through to the shapes' tooltips.
            ".leaflet-heatmap-layer{pointer-events:none}</style>"
        ))  # fmt: skip
        return _page(self.map.get_root(), f"gridmap · {title}")


# An inline script of the head: folium's and ours only, no src, no attributes.
_HEAD_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _script_source(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode() + "'"


def _page(root: Figure, title: str) -> tuple[str, tuple[str, ...]]:
    """The document folium's Figure would write (its template, rendered here piece by piece) and the CSP
    hashes of its inline scripts. Only the scripts that are ours by construction are hashed: those of
    the head, which holds no database text, and the map script at the end, hashed exactly as written.
    A script smuggled in through database text (the title, a legend) is in neither and stays blocked;
    one that broke out of the map script would change that script's text and so block it too."""
    for child in root._children.values():
        child.render()  # as Figure.render: the map fills the head, body and script parts
    head = root.header.render()
    body = root.html.render()
    script = root.script.render()
    hashes = [_script_source(code) for code in _HEAD_SCRIPT.findall(head)] + [_script_source(script)]
    # The title after the head: its <meta charset> stays within the first 1024 bytes whatever the name.
    page = (f"<!DOCTYPE html>\n<html>\n<head>\n{head}\n<title>{_text(title)}</title>\n</head>\n"
            f"<body>\n{body}\n</body>\n<script>{script}</script>\n</html>\n")  # fmt: skip
    return page, tuple(dict.fromkeys(hashes))


def _classes(values: np.ndarray, classify) -> tuple[np.ndarray, list[str]]:
    """Class index of each value and a label per class, from a mapclassify classifier (one class
    when the values are too few or all equal to classify)."""
    if len(values) == 0 or np.unique(values).size < 2:
        only = f"{values[0]:,.0f}" if len(values) else "none"
        return np.zeros(len(values), dtype=int), [only]
    classifier = classify(values)
    bins = classifier.bins
    labels = [f"≤ {bins[0]:,.0f}"] + [f"{lo:,.0f}–{hi:,.0f}" for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
    return np.asarray(classifier.yb, dtype=int), labels
