"""Dramatiq workers: the actor modules (one per job family), their middleware, the broker set-up.

Actors are declared with `workers.registry.actor` and bound to a broker only by `workers.setup.configure`, which
every process runs at start: the worker (`dramatiq workers.setup:configure`), the API and the scheduler. The work
itself is the domain's (`domain/`); an actor claims, calls the domain, and reports.
"""
