"""Areas and buildings: the hierarchy (subdistrict → community → grid → micro-grid) with codes and
versions, the level table, buildings and their membership in micro-grids (by unit or floor), building
territories, household estimates, edits through the API, and the geometry rules every write path
(API, planner drafts, partition, import) applies.

May import the kernel, ``db``, ``sql`` and ``access``; nothing here imports another domain room."""
