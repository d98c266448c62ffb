"""The HTTP faces' error mapper (app/mss/http/problems.py): what a refusal of a request body says."""

from __future__ import annotations

import pytest

from app.mss.http.problems import validation_detail
from tests.mss.asking import SECRET


def test_validation_detail_has_no_input():
    from app.mss.schemas import MessageCreate

    with pytest.raises(Exception) as info:
        MessageCreate.model_validate({"to": [], "notify": [f"X{SECRET}"]})
    detail = validation_detail(info.value)  # type: ignore[arg-type]
    assert "SECRET" not in detail and "notify.0" in detail and "to:" in detail
