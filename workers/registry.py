"""Actors declared without a broker, and bound to each process's broker and Runtime by `workers.setup.configure`.

`@actor(queue_name=..., **options)` takes a function whose first parameter is the process's `Runtime` (as
Celery's `bind=True` hands a task itself) and returns an `Actor` that callers import and send by reference:

    from workers.builds import run_build
    run_build.send(task_id)

Nothing is declared on any broker at import time. `bind(runtime)` declares the actor on `runtime.broker`
with the runtime supplied as that first argument; binding again (a test builds several apps) re-declares it
on the new broker, and every reference follows.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import dramatiq

from core.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")


class Actor(Generic[P, R]):
    def __init__(self, fn: Callable[Concatenate[Runtime, P], R], queue_name: str, options: dict[str, Any]) -> None:
        self.fn = fn
        self.actor_name = fn.__name__
        self.queue_name = queue_name
        self.options = options
        self.__doc__ = fn.__doc__
        self._bound: dramatiq.Actor[P, R] | None = None

    def bind(self, runtime: Runtime) -> dramatiq.Actor[P, R]:
        fn = self.fn

        @functools.wraps(fn)
        def with_runtime(*args: P.args, **kwargs: P.kwargs) -> R:
            return fn(runtime, *args, **kwargs)

        bound: dramatiq.Actor[P, R] = dramatiq.actor(broker=runtime.broker, queue_name=self.queue_name,
                                                     **self.options)(with_runtime)
        self._bound = bound
        return bound

    @property
    def bound(self) -> dramatiq.Actor[P, R]:
        if self._bound is None:
            raise RuntimeError(f"actor {self.actor_name} is not bound: workers.setup.configure() has not run")
        return self._bound

    def send(self, *args: P.args, **kwargs: P.kwargs) -> dramatiq.Message[R]:
        return self.bound.send(*args, **kwargs)

    def send_with_options(self, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                          delay: int | None = None, **options: Any) -> dramatiq.Message[R]:
        return self.bound.send_with_options(args=args, kwargs=kwargs, delay=delay, **options)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run it here and now, in this process (tests, and an operator's shell)."""
        return self.bound(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Actor({self.actor_name!r}, queue_name={self.queue_name!r})"


def actor(*, queue_name: str, **options: Any) -> Callable[[Callable[Concatenate[Runtime, P], R]], Actor[P, R]]:
    """Declare an actor; its function takes the Runtime first, then the message's arguments."""

    def declare(fn: Callable[Concatenate[Runtime, P], R]) -> Actor[P, R]:
        return Actor(fn, queue_name, options)

    return declare


def actors_of(modules: Iterable[ModuleType]) -> list[Actor[Any, Any]]:
    """Every actor the modules define, in definition order."""
    return [value for module in modules for value in vars(module).values() if isinstance(value, Actor)]
