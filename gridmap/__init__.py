"""gridmap: grid-based community governance (网格化管理) on PostGIS.

The core, in rooms by domain (each package's docstring says what it owns and what it may import):

* ``areas``     — the hierarchy (subdistrict → community → grid → micro-grid), codes, levels, buildings,
                  memberships, territories, and the geometry rules every write path applies;
* ``lookup``    — coordinate → owner chain, area queries, and the in-memory index a server answers from;
* ``incidents`` — citizen reports from intake to closure (routing, workflow, deadlines, Open311);
* ``partition`` — household-balanced micro-grids, partition drafts, coverage checks;
* ``planner``   — the planner's drafts of a community and their edits;
* ``access``    — principals, roles and jurisdictions, accounts and sessions, the audit log;
* ``publish``   — what GIS clients and people read: OGC features, vector tiles, folium maps;
* ``io``        — files in and out: import, export, batch locate, the demo city;
* ``db``        — connections, migrations, the embedded cluster, locks, idempotency keys;
* ``sql``       — statements kept as package files.

The kernel every room may use sits at the top: ``errors``, ``settings``, ``fields`` (cell and value
validation), ``points`` (coordinates and instants callers give), ``coords`` (WGS-84/GCJ-02/BD-09),
``text`` (the one rule for user text), ``concurrency`` (If-Match versions) and ``geojson`` (the one
Feature writer). The kernel imports no room. The core never imports ``api`` or ``cli``, and it knows no
web framework: it takes the caller (``access.rules.Principal``) and returns what that caller may see.
"""

__version__ = "0.1.0"
