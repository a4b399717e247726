"""``python -m cli``: the same as the ``gridmap`` command."""

from cli.main import app

app()
