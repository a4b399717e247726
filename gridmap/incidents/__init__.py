"""Incidents (民生诉求 / 工单): intake from any channel, routing to the owning micro-grid, grid, party cell
and people, repeat detection (只投诉一次), the closed-loop workflow with deadlines on a working calendar,
automatic escalation up the grid hierarchy, figures, Open311 documents and bulk import of history.

May import the kernel, ``db``, ``sql``, ``access``, ``areas``, ``lookup`` and ``io`` (file reading)."""
