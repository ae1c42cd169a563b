"""Old argument names and positions that keep working for one release, with a DeprecationWarning.

One name per concept (``docs/architecture.md``): ``max_iter`` for iteration caps,
``n_replications`` for Monte Carlo counts, ``confidence_level`` for intervals, ``alpha`` only for
significance, settings keyword-only after the data arguments.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed_arguments", "keyword_only_after"]


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Accept ``old=value`` for ``new=value`` with a DeprecationWarning (an error when both are given)."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= (deprecated) and {new}=; pass {new}= only")
                    warnings.warn(f"{func.__name__}(): argument {old}= is deprecated and will be removed in the "
                                  f"next release; use {new}=", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def keyword_only_after(n_positional: int) -> Callable[[F], F]:
    """Accept settings passed by position after the first ``n_positional`` data arguments, in
    the order of the (keyword-only) signature, with a DeprecationWarning."""
    def decorate(func: F) -> F:
        names = [p.name for p in inspect.signature(func).parameters.values()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > n_positional:
                extra = args[n_positional:]
                moved = names[:len(extra)]
                if len(extra) > len(names):
                    raise TypeError(f"{func.__name__}() takes {n_positional} positional argument(s)")
                warnings.warn(f"{func.__name__}(): passing {', '.join(moved)} by position is deprecated and will "
                              f"be removed in the next release; pass {', '.join(n + '=' for n in moved)}",
                              DeprecationWarning, stacklevel=2)
                for name, value in zip(moved, extra):
                    if name in kwargs:
                        raise TypeError(f"{func.__name__}() got multiple values for argument {name!r}")
                    kwargs[name] = value
                args = args[:n_positional]
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
