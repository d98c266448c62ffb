"""curl as the IMAP client (curl's IMAP URLs, RFC 5092 style): STARTTLS (RFC 2595) then XOAUTH2 with a PSC
access token, and implicit TLS (RFC 8314) with OAUTHBEARER (RFC 7628); folders listed, a search, the
BODYSTRUCTURE read, the ``IHE_XDM.ZIP`` part fetched by section and compared byte for byte, the whole
message and a partial range compared with the HTTP API's ``.eml``."""

from __future__ import annotations

import base64

from tests.mss.conftest import DOCTOR, DOCTOR_SNI
from tests.mss.helpers import sample_xdm
from tests.mss.imap.clients import (
    deliver,
    fetch_items,
    find_part,
    listing,
    parse_data,
    require_binary,
    run,
    tls_app,
    write_pem,
)
from tests.psc.helpers import access_token_for


def listed(output: bytes) -> dict[str, list[str]]:
    """``* LIST (\\HasNoChildren \\Sent) "/" Sent`` lines as {name: attributes}."""
    found = {}
    for line in output.splitlines():
        if line.startswith(b"* LIST "):
            attributes, _delimiter, name = parse_data(line[len(b"* LIST "):])
            found[name.decode() if isinstance(name, bytes) else name] = attributes
    return found


async def test_curl_starttls_xoauth2_lists_and_fetches_the_xdm_part(app, client, smtp_call, tmp_path):
    curl = require_binary("curl")
    xdm_bytes = sample_xdm()
    await deliver(smtp_call, xdm_bytes=xdm_bytes)
    [message] = await listing(client)
    uid = message["imap_uid"]
    token = await access_token_for(client, DOCTOR_SNI)
    cafile = write_pem(tmp_path, "server.pem", app.state.mss_tls_certificate)
    base = f"imap://127.0.0.1:{app.state.imap_port}"
    # --ssl-reqd: STARTTLS or nothing; the server certificate verified against the sandbox's (no -k needed)
    common = [curl, "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", str(cafile),
              "--login-options", "AUTH=XOAUTH2", "--oauth2-bearer", token, "--user", f"{DOCTOR}:"]

    code, out, err = await run(*common, f"{base}/")  # LIST "" *
    assert code == 0, err
    folders = listed(out)
    assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(folders), out
    assert "\\Sent" in folders["Sent"] and "\\Trash" in folders["Trash"]  # RFC 6154 SPECIAL-USE

    code, out, err = await run(*common, f"{base}/INBOX", "-X", f"UID FETCH {uid} (BODYSTRUCTURE)")
    assert code == 0, err
    items = fetch_items(out.split(b" FETCH ", 1)[1])
    assert items["UID"] == str(uid)
    section = find_part(items["BODYSTRUCTURE"], "IHE_XDM.ZIP")
    assert section == "2", items["BODYSTRUCTURE"]

    assert message["seen"] is False
    code, out, err = await run(*common, f"{base}/INBOX/;UID={uid}/;SECTION={section}")
    assert code == 0, err
    assert base64.b64decode(out) == xdm_bytes  # the part as transferred (base64), decoded: the very zip sent
    # curl fetches BODY[2], not BODY.PEEK[2]: the message is now \Seen, and the HTTP API says so
    assert (await listing(client))[0]["seen"] is True


async def test_curl_implicit_tls_oauthbearer_search_and_partial_fetch(database_url, client, smtp_call, tmp_path):
    curl = require_binary("curl")
    await deliver(smtp_call, subject="premier")
    await deliver(smtp_call, subject="second")
    first, second = await listing(client)
    raw = (await client.get(f"/sandbox/v1/mailboxes/{DOCTOR}/messages/{second['uid']}/raw")).content
    token = await access_token_for(client, DOCTOR_SNI)
    async with tls_app(database_url) as other:
        cafile = write_pem(tmp_path, "server.pem", other.state.mss_tls_certificate)
        base = f"imaps://127.0.0.1:{other.state.imaps_port}"
        # without --login-options curl picks OAUTHBEARER, the server announcing it (AUTH=OAUTHBEARER)
        common = [curl, "-sS", "--max-time", "20", "--cacert", str(cafile), "--oauth2-bearer", token,
                  "--user", f"{DOCTOR}:"]

        code, out, err = await run(*common, f"{base}/INBOX?SUBJECT%20second")  # SEARCH SUBJECT second
        assert code == 0, err
        assert [line.split()[2:] for line in out.splitlines() if line.startswith(b"* SEARCH")] == [[b"2"]], out

        code, out, err = await run(*common, f"{base}/INBOX/;UID={second['imap_uid']}")  # BODY[]
        assert code == 0, err
        assert out == raw  # what IMAP serves is what the HTTP API serves, Received: trace included

        code, out, err = await run(*common, f"{base}/INBOX/;UID={first['imap_uid']}/;PARTIAL=0.64")  # BODY[]<0.64>
        assert code == 0, err
        first_raw = (await client.get(f"/sandbox/v1/mailboxes/{DOCTOR}/messages/{first['uid']}/raw")).content
        assert out == first_raw[:64]

        code, _, _ = await run(curl, "-sS", "--max-time", "20", "--cacert", str(cafile), "--oauth2-bearer",
                               "not-a-psc-token", "--user", f"{DOCTOR}:", f"{base}/INBOX?ALL")
        assert code == 67  # CURLE_LOGIN_DENIED: the server said NO to the token
