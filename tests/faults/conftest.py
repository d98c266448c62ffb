"""Fixtures of the fault-injection tests: the DMP tests' PSC tokens (``token``, ``auth``)."""

from tests.dmp.conftest import auth, token

__all__ = ["auth", "token"]
