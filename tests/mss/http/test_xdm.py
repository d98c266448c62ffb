"""The XDM helpers of the mailbox API: build and inspect, behind a PSC token, off the event loop."""

from __future__ import annotations

import threading

from app.mss import xdm
from tests.mss.asking import auth
from tests.mss.conftest import DOCTOR_SNI
from tests.mss.helpers import SAMPLE_CDA, cda_without_ins, rezip, sample_xdm


async def test_xdm_helpers_require_psc(client):
    for path, content in (("/mss/v1/xdm", SAMPLE_CDA), ("/mss/v1/xdm/inspect", sample_xdm())):
        response = await client.post(path, content=content)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_xdm_helpers_run_off_the_event_loop(client, monkeypatch):
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_read, real_build = xdm.read_xdm, xdm.build_xdm

    def read(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_read(*args, **kwargs)

    def build(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(xdm, "read_xdm", read)
    monkeypatch.setattr(xdm, "build_xdm", build)
    headers = await auth(client)
    built = await client.post("/mss/v1/xdm", content=SAMPLE_CDA, headers=headers)
    assert built.status_code == 200
    inspected = await client.post("/mss/v1/xdm/inspect", content=built.content, headers=headers)
    assert inspected.status_code == 200
    assert len(threads) == 3 and loop_thread not in threads


async def test_xdm_build_and_inspect_helpers(client):
    psc = await auth(client, DOCTOR_SNI)
    built = await client.post("/mss/v1/xdm", content=SAMPLE_CDA, headers={"Content-Type": "application/xml", **psc})
    assert built.status_code == 200 and built.headers["x-mss-codecda"] == "11488-4"
    assert built.headers["x-mss-ins"] == "O"
    inspected = await client.post("/mss/v1/xdm/inspect", content=built.content,
                                  headers={"Content-Type": "application/zip", **psc})
    assert inspected.status_code == 200 and inspected.json()["cda_codes"] == ["11488-4"]
    bad = await client.post("/mss/v1/xdm", content=cda_without_ins(), headers=psc)
    assert bad.status_code == 422
    bomb = await client.post("/mss/v1/xdm/inspect", content=rezip(sample_xdm(), add={"../x": b"x"}), headers=psc)
    assert bomb.status_code == 422 and bomb.json()["rule"] == "MSS:xdm.zip.path"
