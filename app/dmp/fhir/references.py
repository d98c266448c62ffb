"""References between the entries of a FHIR Bundle, resolved as FHIR R4 says (no I/O).

FHIR R4 §2.36.4.1 "Resolving references in Bundles" (https://hl7.org/fhir/R4/bundle.html#references):

1. a fragment (``#id``) points into the resource's own ``contained``: not a Bundle entry;
2. an absolute reference — ``urn:uuid:``, ``urn:oid:`` or an absolute URL — designates the entry whose
   ``fullUrl`` is that URI (a version-specific ``…/_history/n`` matches the entry's plain ``fullUrl``:
   ``fullUrl`` SHALL NOT be version specific);
3. a relative reference ``Type/id`` (``/_history/n`` allowed) is made absolute against the *root* of the
   referring entry's ``fullUrl`` when that fullUrl is a RESTful URL (``<root>/Type/id``), then matched as
   in 2. When the referring entry's fullUrl is not RESTful (``urn:uuid:``…), a relative reference has no
   meaning inside the Bundle: it points to the server (e.g. ``DocumentReference/<id>`` of a replaced
   document) and :func:`resolve` answers ``None``.

MHD uses the same rules for ``DocumentReference.content.attachment.url`` (ITI-65 §2:3.65.4.1.2.1): PDSm
writes it ``Binary/[id]`` next to a Binary entry whose fullUrl is ``<base>/Binary/[id]``.
"""

from __future__ import annotations

import re
from collections.abc import Collection

# FHIR R4 RESTful URL (bundle.html#references, "the regex"), any resource type name: [root]/Type/id[/_history/v]
_RESTFUL = re.compile(
    r"(?P<root>(?:https?)://(?:[A-Za-z0-9\-\\.:%$]*/)+)?"
    r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?P<history>/_history/[A-Za-z0-9\-.]{1,64})?"
)
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:.+")


def is_internal(reference: str) -> bool:
    """``urn:uuid:`` / ``urn:oid:``: only ever the fullUrl of an entry of the same Bundle (or nothing)."""
    return reference.startswith(("urn:uuid:", "urn:oid:"))


def is_relative(reference: str) -> bool:
    """``Type/id`` or ``Type/id/_history/v`` (no root)."""
    match = _RESTFUL.fullmatch(reference)
    return match is not None and match.group("root") is None


def restful_root(full_url: str | None) -> str | None:
    """The ``[root]`` of a RESTful fullUrl (``https://h/fhir/Patient/1`` → ``https://h/fhir/``), else None."""
    if not full_url:
        return None
    match = _RESTFUL.fullmatch(full_url)
    return match.group("root") if match and match.group("root") else None


def absolute(reference: str, *, referrer: str | None) -> str | None:
    """``reference`` as an absolute URI, following FHIR R4 Bundle rules; None when it has none."""
    if not reference or reference.startswith("#"):
        return None
    if is_relative(reference):
        root = restful_root(referrer)
        return root + reference if root else None
    if _ABSOLUTE_URL.fullmatch(reference):
        return reference
    return None


def resolve(reference: str | None, *, referrer: str | None, full_urls: Collection[str]) -> str | None:
    """The ``fullUrl`` of the entry ``reference`` designates, written in the entry whose fullUrl is
    ``referrer``; None when it designates no entry of the Bundle."""
    if not isinstance(reference, str):
        return None
    target = absolute(reference, referrer=referrer)
    if target is None:
        return None
    if target in full_urls:
        return target
    match = _RESTFUL.fullmatch(target)
    if match and match.group("history"):
        plain = target[: match.start("history")]
        if plain in full_urls:
            return plain
    return None


def same_tail(reference: str, full_urls: Collection[str]) -> list[str]:
    """The fullUrls that end with the relative ``reference`` (``…/Binary/1`` for ``Binary/1``): what a
    vendor probably meant when the reference did not resolve (for the error message only)."""
    if not is_relative(reference):
        return []
    plain = reference.split("/_history/", 1)[0]
    return [url for url in full_urls if url.endswith("/" + plain) and restful_root(url)]
