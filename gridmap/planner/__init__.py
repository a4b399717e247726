"""The planner's redraw of a community: a draft kept on the server (``drafts``), the world it edits
(``world``) and the edits themselves (``edits``).

May import the kernel, ``db``, ``sql``, ``access``, ``areas`` and ``partition``."""
