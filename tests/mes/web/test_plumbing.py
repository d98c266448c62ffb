"""Pure parts of the pages' plumbing: safe ``next`` paths, the form kept across a sign-in, token comparison."""

from __future__ import annotations

import base64
import json

import pytest

from app.mes.pages_web import PENDING_FILE_MAX, Pending, action_label, safe_next, tokens_match


@pytest.mark.parametrize("value", ["/mes/", "/mes/patients/275126322074974/acces",
                                   "/mes/patients/275126322074974/historique?mode=bris_de_glace&qui=fontaine"])
def test_paths_of_the_patient_pages_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [
    None, "", "https://evil.example/mes/", "//evil.example/mes/", "/\\evil.example", "/mes/../sandbox/v1/reset",
    "/mes//evil.example", "javascript:alert(1)", "/sandbox/v1/journal", "/mesxyz", "/mes/%0d%0aSet-Cookie:x",
    "/mes/a b", "/mes/" + "a" * 1001, 42,
])
def test_anything_else_is_dropped(value: object) -> None:
    assert safe_next(value) is None


def test_a_pending_form_round_trips() -> None:
    pending = Pending(action="/mes/patients/275126322074974/acces/bloquer", fields=[("rpps", "10001000024")],
                      file_name="a.pdf", file_type="application/pdf", file_b64=base64.b64encode(b"%PDF").decode())
    again = Pending.decode(pending.encode())
    assert again == pending
    assert action_label(pending.action) == "Bloquer un professionnel"


@pytest.mark.parametrize("action", ["https://evil.example/", "/sandbox/v1/reset", "/mes/connexion",
                                    "/mes/patients/x/../../sandbox", "javascript:alert(1)"])
def test_a_pending_form_only_posts_back_to_a_patient_page(action: str) -> None:
    forged = base64.urlsafe_b64encode(json.dumps({"a": action, "f": []}).encode()).decode()
    assert Pending.decode(forged) is None


@pytest.mark.parametrize("value", [None, "", "%%%", base64.urlsafe_b64encode(b"[1,2]").decode(),
                                   "A" * (4 * PENDING_FILE_MAX + 1)])
def test_garbage_is_no_pending_form(value: object) -> None:
    assert Pending.decode(value) is None


def test_tokens_compare_in_constant_time_and_absent_never_matches() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abd", "abc") and not tokens_match("", "") and not tokens_match(None, "abc")
    assert not tokens_match("abc", None) and not tokens_match(["abc"], "abc")
