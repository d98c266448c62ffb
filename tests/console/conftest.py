"""Fixtures of the console tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

TOKEN = "console-test-token-0123456789"


@pytest.fixture
def protected(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The session's app with SEGUR_CONTROL_TOKEN set for the test, then as it was."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"control_token": TOKEN})
    try:
        yield TOKEN
    finally:
        app.state.settings = original
