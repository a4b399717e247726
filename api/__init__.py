"""The HTTP adapter over the gridmap core (FastAPI). Holds no domain logic."""
