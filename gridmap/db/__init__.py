"""Database access: connections, migrations and the embedded cluster.

JSON to and from PostgreSQL goes through orjson: an owner answer or an incident's route snapshot is a
couple of kilobytes, and with the standard library parsing and writing them was a fifth of a bulk import."""

import orjson
from psycopg.types.json import set_json_dumps, set_json_loads


def _dumps(value) -> bytes:
    # Non-string keys become strings, as the standard library would make them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


set_json_dumps(_dumps)
set_json_loads(orjson.loads)
