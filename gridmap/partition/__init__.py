"""Partition and coverage: the household-balanced micro-grid algorithm (``algorithm``), partition drafts
kept in the database until applied (``drafts``), and the coverage checks that every piece of land and
every household has exactly one owner (``coverage``).

May import the kernel, ``db``, ``sql``, ``access`` and ``areas``."""
