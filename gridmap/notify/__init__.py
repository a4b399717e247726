"""Telling people: the outbox of messages (written with the event that causes them), their Chinese
templates, and the senders that deliver them (a signed webhook, an SMS gateway). Knows nothing of
incidents beyond the few fields a message names; ``gridmap.incidents`` decides who is told what."""
