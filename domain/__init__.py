"""The domain layer: what a request or an actor does to records (state changes, events, the outbox, cache views,
analytics, the work of builds, analyses, deliveries and polls). It imports models and core, never api, workers or
scheduler; it sends no actor by import (an outbox row or a delivery names its actor)."""
