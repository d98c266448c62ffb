"""The `segur-sandbox xdm build|inspect` helpers (wired by the lead into app/cli.py)."""

from __future__ import annotations

import argparse

from app.mss import cli, xdm
from tests.mss.helpers import SAMPLE_CDA, cda_without_ins


def parser():
    p = argparse.ArgumentParser()
    cli.add_xdm_commands(p.add_subparsers(dest="command", required=True))
    return p


def test_build_then_inspect(tmp_path, capsys):
    cda = tmp_path / "cr.xml"
    cda.write_bytes(SAMPLE_CDA)
    out = tmp_path / "IHE_XDM.ZIP"
    args = parser().parse_args(["xdm", "build", str(cda), "-o", str(out)])
    assert args.handler(args) == 0
    assert "X-MSS-CODECDA: 11488-4" in capsys.readouterr().out
    assert xdm.read_xdm(out.read_bytes()).cda_codes == ["11488-4"]
    args = parser().parse_args(["xdm", "inspect", str(out)])
    assert args.handler(args) == 0
    assert '"cda_codes"' in capsys.readouterr().out


def test_build_refuses_cda_without_ins(tmp_path):
    cda = tmp_path / "cr.xml"
    cda.write_bytes(cda_without_ins())
    assert cli.xdm_build(cda, tmp_path / "x.zip") == 2


def test_inspect_unsafe(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert cli.xdm_inspect(bad) == 2
