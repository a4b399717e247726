"""Import and export of areas, buildings, party cells and people in any format geopandas reads."""
