"""Command-line helpers of the mss domain, wired by the lead into ``segur-sandbox``.

``segur-sandbox xdm build CDA.xml [--pdf doc.pdf] [-o IHE_XDM.ZIP]`` ->
``add_xdm_commands(subparsers)`` registers ``xdm build`` and ``xdm inspect`` on an argparse parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.mss import xdm


def xdm_build(cda: Path, output: Path, pdf: Path | None = None, format_code: str | None = None) -> int:
    """Write a conformant IHE_XDM.ZIP around ``cda`` (and ``pdf``); print the X-MSS headers to set."""
    try:
        archive = xdm.build_xdm(cda.read_bytes(), pdf=pdf.read_bytes() if pdf else None, format_code=format_code)
    except xdm.XdmError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    output.write_bytes(archive)
    package = xdm.read_xdm(archive)
    print(f"wrote {output} ({len(archive)} bytes)")
    print(f"X-MSS-CODECDA: {','.join(package.cda_codes)}")
    print(f"X-MSS-INS: {'O' if package.has_qualified_ins else 'N'}")
    codes = [d.format_code.code for d in package.cda_documents if d.format_code]
    print(f"formatCode: {','.join(codes)}")
    return 0


def xdm_inspect(archive: Path) -> int:
    """Read an IHE_XDM.ZIP safely and print its decoded metadata and issues as JSON."""
    try:
        package = xdm.read_xdm(archive.read_bytes())
    except xdm.XdmError as exc:
        print(json.dumps({"error": exc.code, "message": exc.message, "unsafe": exc.unsafe}, indent=2))
        return 2
    print(json.dumps(package.to_dict(), indent=2, ensure_ascii=False))
    return 1 if any(i.severity == "error" for i in package.issues) else 0


def add_xdm_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("xdm", help="build or inspect an IHE_XDM.ZIP (MSSanté)")
    sub = parser.add_subparsers(dest="xdm_command", required=True)
    build = sub.add_parser("build", help="wrap a CDA R2 document in a conformant IHE_XDM.ZIP")
    build.add_argument("cda", type=Path)
    build.add_argument("--pdf", type=Path, default=None)
    build.add_argument("-o", "--output", type=Path, default=Path("IHE_XDM.ZIP"))
    build.add_argument("--format-code", default=None,
                       help="a JDV_J10 format code instead of the CDA's own (told from its body and templateIds)")
    build.set_defaults(handler=lambda a: xdm_build(a.cda, a.output, a.pdf, a.format_code))
    inspect = sub.add_parser("inspect", help="read an IHE_XDM.ZIP and print its metadata and issues")
    inspect.add_argument("archive", type=Path)
    inspect.set_defaults(handler=lambda a: xdm_inspect(a.archive))
