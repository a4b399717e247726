"""Database access: connections and pools (``connect``), migrations, the embedded cluster, bulk COPY, locks,
the write epoch and idempotency keys. May import the kernel (errors, settings) and nothing above it."""
