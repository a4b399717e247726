"""Rendered maps (folium, fully offline): household density, incidents, unassigned areas, overview."""
