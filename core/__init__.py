"""Plumbing shared by api/, workers/ and scheduler/: settings, Redis connections, logging, time.

It imports none of those packages, so any of them may import it.
"""
