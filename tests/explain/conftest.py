"""The explain tests: one BLAS thread each (the suite runs beside other jobs on two cores, where BLAS threads
fighting for them make small matrix products many times slower)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
