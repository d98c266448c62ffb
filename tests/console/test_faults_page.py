"""The console's fault-injection page: list, create (the rule then applies), refuse, delete."""

from __future__ import annotations

import httpx

from tests.console.helpers import csrf

PAGE = "/console/faults"
ADRUN = {"NomNaissance": "ADRUN", "Prenom": "ZOE", "Sexe": "F", "DateNaissance": "1975-12-31"}


async def test_create_apply_and_delete_from_the_page(client: httpx.AsyncClient) -> None:
    page = await client.get(PAGE)
    assert page.status_code == 200 and "Aucune règle" in page.text and 'lang="fr"' in page.text
    token = await csrf(client, PAGE)
    created = await client.post(PAGE, data={"csrf": token, "target": "ins.search_traits", "kind": "unavailable",
                                            "count": "1"})
    assert created.status_code == 303 and created.headers["location"] == PAGE
    (rule,) = (await client.get("/sandbox/v1/faults")).json()
    assert rule["target"] == "ins.search_traits" and rule["count"] == 1 and rule["from"] is None
    listed = await client.get(PAGE)
    assert "<code>ins.search_traits</code>" in listed.text and "les 1 prochains appels" in listed.text
    answer = await client.post("/insi/v1/search-traits", json=ADRUN, headers={"X-Client-Cert-CN": "INSI-AUTO"})
    assert answer.status_code == 503
    deleted = await client.post(f"{PAGE}/delete", data={"csrf": token, "id": str(rule["id"])})
    assert deleted.status_code == 303 and (await client.get("/sandbox/v1/faults")).json() == []


async def test_window_from_the_form_is_utc(client: httpx.AsyncClient) -> None:
    token = await csrf(client, PAGE)
    await client.post(PAGE, data={"csrf": token, "target": "dmp.iti65", "kind": "slow", "delay_ms": "100",
                                  "from": "2026-12-07T10:00", "until": "2026-12-07T10:05"})
    (rule,) = (await client.get("/sandbox/v1/faults")).json()
    assert rule["from"].startswith("2026-12-07T10:00:00") and rule["from"].endswith(("Z", "+00:00"))


async def test_bad_rules_are_refused_on_the_page(client: httpx.AsyncClient) -> None:
    token = await csrf(client, PAGE)
    for fields, field in (({"target": "psc.token", "kind": "wrong_answer"}, "kind"),
                          ({"target": "dmp.iti65", "kind": "slow", "delay_ms": "abc"}, "delay_ms"),
                          ({"target": "dmp.iti65", "kind": "unavailable", "from": "hier"}, "from"),
                          # parse, but no UTC equivalent (the store failed on them with a 500)
                          ({"target": "dmp.iti65", "kind": "unavailable", "from": "0001-01-01T00:00:00+14:00"},
                           "from"),
                          ({"target": "dmp.iti65", "kind": "unavailable", "until": "9999-12-31T23:59:59-14:00"},
                           "until"),
                          ({"target": "nothing", "kind": "unavailable"}, "target")):
        refused = await client.post(PAGE, data={"csrf": token, **fields})
        assert refused.status_code == 422, fields
        assert 'role="alert"' in refused.text and f"<code>{field}</code>" in refused.text
    assert (await client.get("/sandbox/v1/faults")).json() == []


async def test_delete_all_and_csrf(client: httpx.AsyncClient) -> None:
    token = await csrf(client, PAGE)
    for target in ("psc.token", "mss.smtp.data"):
        await client.post(PAGE, data={"csrf": token, "target": target, "kind": "unavailable"})
    assert (await client.post(PAGE, data={"csrf": "forged", "target": "psc.token", "kind": "unavailable"})
            ).status_code == 403
    assert (await client.post(f"{PAGE}/delete", data={"csrf": token, "all": "yes"})).status_code == 303
    assert (await client.get("/sandbox/v1/faults")).json() == []
