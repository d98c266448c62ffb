"""app.ins.service: the public interface other domains, the CLI and the bench import, unchanged in name."""

from __future__ import annotations

from app.ins import identities, national_base, service


def test_the_public_names_are_the_concept_modules_functions() -> None:
    assert service.InsIdentity is identities.InsIdentity
    for name in ("find_identity", "lookup_key", "known_ins", "list_identities", "identity_kind_subquery"):
        assert getattr(service, name) is getattr(identities, name), name
    for name in ("seed", "load_fixtures", "load_fixture_file"):
        assert getattr(service, name) is getattr(national_base, name), name
    assert set(service.__all__) == {
        "InsIdentity", "find_identity", "lookup_key", "known_ins", "list_identities", "identity_kind_subquery",
        "seed", "load_fixtures", "load_fixture_file"}
