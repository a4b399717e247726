"""What GIS clients and people read: OGC API – Features collections (``features``), Mapbox Vector Tiles
(``tiles``) and offline folium maps (``maps``).

May import the kernel, ``db``, ``sql``, ``access``, ``areas``, ``partition`` and ``incidents``."""
