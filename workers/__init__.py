"""Dramatiq workers: the broker set-up (`workers.setup`), middleware, and one module per job family.

Start a worker with `dramatiq workers.setup:configure`; it builds the broker from the settings,
sets it, and only then imports the actor modules.
"""
