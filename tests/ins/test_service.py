"""app.ins.service: the public interface other domains, the CLI and the bench import, unchanged in name."""

from __future__ import annotations

from app.ins import exceptions, identities, individu, national_base, searches, service, traits


def test_the_public_names_are_the_concept_modules_functions() -> None:
    assert service.InsIdentity is identities.InsIdentity
    for name in ("find_identity", "lookup_key", "known_ins", "list_identities", "identity_kind_subquery"):
        assert getattr(service, name) is getattr(identities, name), name
    for name in ("seed", "load_fixtures", "load_fixture_file", "list_cards", "list_persons"):
        assert getattr(service, name) is getattr(national_base, name), name
    # the web console's trial search runs the JSON facade's own steps (app/console/ins.py)
    assert service.InsError is exceptions.InsError and service.answer_body is individu.answer_body
    assert service.search_by_traits is searches.search_by_traits and service.check_query is traits.check_query
    assert set(service.__all__) == {
        "InsIdentity", "find_identity", "lookup_key", "known_ins", "list_identities", "identity_kind_subquery",
        "seed", "load_fixtures", "load_fixture_file", "list_cards", "list_persons", "InsError", "answer_body",
        "search_by_traits", "check_query"}
