"""The README stays honest about configuration: every setting is in its table, and it opens with the
two commands."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [f"SEGUR_{name.upper()}" for name in Settings.model_fields if f"`SEGUR_{name.upper()}" not in README]
    assert missing == [], f"add these to the README's configuration tables: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:600]
    assert "make serve" in head and "make test" in head
