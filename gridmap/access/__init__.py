"""Who may do what: principals, roles, permissions and jurisdictions (``rules``); users, API keys and
sessions (``accounts``); login throttling (``throttle``); the append-only audit log (``audit``).

May import the kernel and ``db``; every other room may import this one."""
