"""Import and export of areas, buildings, party cells and people in any format geopandas reads.

May import the kernel, ``db``, ``sql``, ``access``, ``areas`` and ``lookup``."""
