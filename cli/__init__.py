"""The ``gridmap`` command: a thin shell over the core (``gridmap``) and the web app (``api``), beside
both. Every command reports a refused input the same way (``cli.errors``): a message on stderr and
exit code 2 for bad input, 1 for a failure of the system."""
