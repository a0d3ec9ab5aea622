"""A build's or analysis's life: start and cancel, progress and logs, heartbeat, how it ends."""
