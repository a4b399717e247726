"""Photo uploads: checked by their first bytes (not by what the client claims), stored once per content
under the data dir (photos/ab/<sha256>.<ext>), linked to a case."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

import psycopg

from gridmap.access.rules import Principal, require
from gridmap.errors import InvalidInput, NotFound, UnsupportedMedia
from gridmap.incidents.cases import visible_case

MAX_PHOTOS = 20
# The signatures of the accepted image types.
_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"RIFF", "image/webp", "webp"),  # followed by WEBP at offset 8, checked below
)


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of a JPEG, PNG or WebP image; UnsupportedMedia for anything else."""
    for magic, content_type, ext in _TYPES:
        if data.startswith(magic) and (ext != "webp" or data[8:12] == b"WEBP"):
            return content_type, ext
    raise UnsupportedMedia("a photo must be a JPEG, PNG or WebP image")


def add_photo(
    conn: psycopg.Connection, who: Principal, incident_id: int, data: bytes, data_dir: Path, max_bytes: int,
    now: datetime,
) -> dict:  # fmt: skip
    """Store an uploaded photo and link it to the case; the file is written before the row, so a row
    always has its file (an orphan file from a failed insert is harmless and reused by content). Returns
    the photo's id, content type, size and digest."""
    require(who, "incident.create")
    if not data:
        raise InvalidInput("the photo is empty", "body")
    if len(data) > max_bytes:
        raise InvalidInput(f"a photo may be at most {max_bytes} bytes", "body")
    content_type, ext = sniff(data)
    with conn.transaction():
        visible_case(conn, who, incident_id, lock=True)
        count = conn.execute("SELECT count(*) FROM incident_photo WHERE incident_id = %s", (incident_id,)).fetchone()
        if count[0] >= MAX_PHOTOS:
            raise InvalidInput(f"a case holds at most {MAX_PHOTOS} photos", "body")
        digest = hashlib.sha256(data).hexdigest()
        relative = Path("photos") / digest[:2] / f"{digest}.{ext}"
        target = data_dir / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        photo_id = conn.execute(
            "INSERT INTO incident_photo (incident_id, path, content_type, bytes, sha256, added_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (incident_id, str(relative), content_type, len(data), digest, now),
        ).fetchone()[0]
    return {"id": photo_id, "content_type": content_type, "bytes": len(data), "sha256": digest}


def photo_file(conn: psycopg.Connection, who: Principal, incident_id: int, photo_id: int, data_dir: Path):
    """(path, content type) of an uploaded photo of a case the caller may see."""
    visible_case(conn, who, incident_id)
    row = conn.execute(
        "SELECT path, content_type FROM incident_photo WHERE id = %s AND incident_id = %s AND path IS NOT NULL",
        (photo_id, incident_id),
    ).fetchone()
    if row is None or not (data_dir / row[0]).is_file():
        raise NotFound(f"incident {incident_id} has no uploaded photo {photo_id}")
    return data_dir / row[0], row[1]
