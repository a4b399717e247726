"""Database access: connections, migrations and the embedded cluster."""
