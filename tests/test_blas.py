"""The hot paths run their matrix products on one BLAS thread, and leave the setting as found."""

import numpy as np
from threadpoolctl import threadpool_info

from psychometrics._blas import one_blas_thread, single_threaded_blas


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_limit_holds_inside_and_is_restored():
    before = _blas_threads()
    with single_threaded_blas():
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


def test_decorated_verb_sees_one_thread_and_returns_its_value():
    @one_blas_thread
    def product(x):
        """Docstring kept."""
        return _blas_threads(), x.T @ x

    threads, value = product(np.eye(3))
    assert all(n == 1 for n in threads)
    np.testing.assert_array_equal(value, np.eye(3))
    assert product.__doc__ == "Docstring kept."
