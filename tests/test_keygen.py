"""Keys made ahead are handed out once each, and asking with nothing made ahead still gives a key."""

from __future__ import annotations

from app import keygen


def test_prefetched_keys_are_used_once_then_fresh_ones_are_made() -> None:
    keygen.prefetch_rsa_2048(2)
    first, second, third = keygen.rsa_2048(), keygen.rsa_2048(), keygen.rsa_2048()
    numbers = {key.private_numbers().p for key in (first, second, third)}
    assert len(numbers) == 3
    assert all(key.key_size == 2048 for key in (first, second, third))


def test_fresh_sqlite_store_is_told_apart(tmp_path) -> None:
    from app.config import load_settings

    fresh = load_settings(database_url=f"sqlite:///{tmp_path}/new.db")
    assert fresh.is_fresh_sqlite_store
    (tmp_path / "old.db").write_bytes(b"")
    assert not load_settings(database_url=f"sqlite:///{tmp_path}/old.db").is_fresh_sqlite_store
    assert not load_settings(database_url="postgresql://u@h/db").is_fresh_sqlite_store
