"""The application factory: what create_app wires (tags, docs, operation ids, the bearer check)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from app.main import create_app, operation_id
from tests.conftest import make_settings

OPERATION_IDS = Path(__file__).with_name("operation_ids.txt")
"""Every operation of /openapi.json as ``METHOD path operationId``: generated clients name their methods
after these ids, so a change here is a change for every vendor (update the file on purpose)."""


def _operations(spec: dict) -> list[str]:
    return sorted(f"{method.upper()} {path} {operation['operationId']}"
                  for path, methods in spec["paths"].items() for method, operation in methods.items())


async def test_openapi_has_a_tag_per_service(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    names = {tag["name"] for tag in spec["tags"]}
    assert {"platform", "sandbox"} <= names
    assert "Ségur Sandbox" in spec["info"]["title"]
    docs = await client.get("/docs")
    assert docs.status_code == 200


def test_operation_ids_are_unique_and_stable(tmp_path: Path) -> None:
    spec = create_app(make_settings(f"sqlite:///{tmp_path}/ids.db")).openapi()
    operations = _operations(spec)
    ids = [line.rsplit(" ", 1)[1] for line in operations]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert operations == OPERATION_IDS.read_text(encoding="utf-8").splitlines()


def test_a_route_without_an_explicit_id_is_named_after_its_domain_and_function() -> None:
    router = APIRouter()

    @router.get("/x")
    async def find_documents() -> None: ...

    route = router.routes[0]
    route.endpoint.__module__ = "app.dmp.fhir.router"  # type: ignore[attr-defined]
    assert operation_id(route) == "dmp_find_documents"  # type: ignore[arg-type]
    route.endpoint.__module__ = "app.api.health"  # type: ignore[attr-defined]
    assert operation_id(route) == "platform_find_documents"  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/mss/v1/mailboxes", "/dmp/fhir/DocumentReference?patient.identifier=x",
                                  "/psc/v1/me"])
async def test_protected_routers_refuse_a_request_without_a_token(client: httpx.AsyncClient, path: str) -> None:
    """Domain.protected_routers get the PSC bearer check where they are included (app/main.py)."""
    response = await client.get(path)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_exactly_one_domain_provides_the_bearer_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app import domains

    loaded = domains.load_domains()
    twice = [*loaded, loaded[0]]  # the PSC domain listed twice: two bearer checks
    monkeypatch.setattr("app.main.load_domains", lambda: twice)
    with pytest.raises(RuntimeError, match="exactly one domain"):
        create_app(make_settings(f"sqlite:///{tmp_path}/two.db"))


async def test_a_protected_route_checks_the_token_before_the_request(client: httpx.AsyncClient) -> None:
    """README, Decisions: the bearer check runs first on a protected router; the route's own checks after it."""
    from tests.psc.helpers import GP, access_token_for

    url = "/dmp/fhir/DocumentReference?patient.identifier=a%00b"
    assert (await client.get(url)).status_code == 401
    token = await access_token_for(client, GP)
    refused = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400, refused.text
    assert "FHIR:string" in refused.text
