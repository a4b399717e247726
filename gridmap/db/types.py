"""The database types the layers above name in their signatures, so they need not import psycopg."""

from __future__ import annotations

import psycopg

Connection = psycopg.Connection
