"""A fast pre-check of FHIR R4 structure that only ever *accepts*: what it accepts, ``fhir.resources`` accepts.

Building the ``fhir.resources`` (pydantic) models of an ITI-65 Bundle costs more than all the PDSm checks
together. :func:`accepts` walks the same JSON against the same models' field tables instead, without
building anything: every key must be an element of the model (alias), every complex value a JSON object
(or a non-empty array of them where the element repeats), every primitive value must pass the *very
validator* ``fhir.resources`` uses for that element (a pydantic ``TypeAdapter`` of the field's annotated
type, results memoised), required elements must be there and choice elements (``value[x]``) unique.

Whenever the walk meets anything it does not model exactly — a ``_element`` primitive extension, a null,
an empty array, ``fhir_comments``, an unknown ``resourceType``, a value a primitive validator refuses —
it answers ``False`` and the caller validates with ``fhir.resources`` as before, which produces the error
(same message, same location). So the fast path can skip work, never a rule; tests/dmp/fhir/test_fhircheck.py
checks that on thousands of mutated Bundles.

It also answers ``False`` beyond :data:`MAX_DEPTH` levels of JSON nesting; :func:`deeper_than` tells the
caller whether to refuse such a body before fhir.resources recurses into it (Python's recursion limit, and
orjson's 255 levels when the resource is stored and rendered).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

_PRIMITIVE, _MODEL, _RESOURCE, _UNSUPPORTED = range(4)


class _Unsure(Exception):
    """The fast walk cannot vouch for this input: let fhir.resources decide."""


@dataclass(slots=True)
class _Field:
    kind: int
    is_list: bool
    model: Any = None  # the model class (_MODEL)
    fhir_type: Any = None  # the FhirElementOrResourceBase subclass (_RESOURCE)
    adapter: Any = None  # pydantic TypeAdapter of the item type (_PRIMITIVE)


@dataclass(slots=True)
class _Spec:
    resource_type: str
    fields: dict[str, _Field] = field(default_factory=dict)  # by JSON name (alias)
    required: tuple[str, ...] = ()  # pydantic-required elements
    required_primitives: tuple[str, ...] = ()  # fhir_core element_required primitives
    choices: tuple[tuple[tuple[str, ...], bool], ...] = ()  # value[x] groups, required


MAX_DEPTH = 100  # JSON levels (objects and arrays) of a body; FHIR resources need a dozen or so

_SPECS: dict[type, _Spec] = {}
_MEMO: dict[tuple[int, type, Any], bool] = {}
_MEMO_MAX = 8192
_MEMO_MAX_LEN = 512  # longer strings are checked every time, not kept


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return None
        return _strip_optional(args[0])
    return tp


def _field_of(annotation: Any) -> _Field:
    from fhir_core.types import FhirBase, FhirElementOrResourceBase
    from pydantic import TypeAdapter

    tp = _strip_optional(annotation)
    if tp is None:
        return _Field(_UNSUPPORTED, False)
    is_list = typing.get_origin(tp) is list
    if is_list:
        (tp,) = typing.get_args(tp)
        tp = _strip_optional(tp)
        if tp is None:
            return _Field(_UNSUPPORTED, True)
    if isinstance(tp, type) and issubclass(tp, FhirBase):
        if issubclass(tp, FhirElementOrResourceBase):
            if tp.get_model_klass().__name__ != "Resource":
                return _Field(_UNSUPPORTED, is_list)
            return _Field(_RESOURCE, is_list, fhir_type=tp)
        return _Field(_MODEL, is_list, model=tp.get_model_klass())
    if typing.get_origin(tp) in (list, dict) or tp in (list, dict):
        return _Field(_UNSUPPORTED, is_list)
    return _Field(_PRIMITIVE, is_list, adapter=TypeAdapter(tp))


def _spec(model: type) -> _Spec:
    spec = _SPECS.get(model)
    if spec is not None:
        return spec
    spec = _Spec(resource_type=model.__resource_type__)  # type: ignore[attr-defined]
    required: list[str] = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        alias = info.alias or name
        if name == "fhir_comments" or name.endswith("__ext") or alias.startswith("_") or info.metadata:
            continue  # never accepted by the fast walk: such a key sends the input to fhir.resources
        spec.fields[alias] = _field_of(info.annotation)
        if info.is_required():
            required.append(alias)
    blank = model.model_construct()  # type: ignore[attr-defined]
    aliases = {name: (info.alias or name) for name, info in model.model_fields.items()}  # type: ignore[attr-defined]
    spec.required = tuple(required)
    spec.required_primitives = tuple(aliases[name] for name, _ in blank.get_required_fields())
    groups = []
    for names in blank.get_one_of_many_fields().values():
        info = model.model_fields[names[0]]  # type: ignore[attr-defined]
        groups.append((tuple(aliases[n] for n in names), info.json_schema_extra["one_of_many_required"] is True))
    spec.choices = tuple(groups)
    _SPECS[model] = spec
    return spec


_RESOURCE_CLASSES: dict[tuple[str, str], Any] = {}


def _resource_class(fhir_type: Any, resource_type: Any) -> Any:
    """The class fhir_core's FhirElementOrResourceBase picks for ``resourceType`` (same lookup; a key of
    FHIR_TYPES_MAPS is never rebound once set, so what it resolved to is kept)."""
    if not isinstance(resource_type, str):
        raise _Unsure
    key = (fhir_type._prefix, resource_type)
    model = _RESOURCE_CLASSES.get(key)
    if model is None:
        from fhir_core.types import FHIR_TYPES_MAPS
        from pydantic._internal._validators import import_string

        path = FHIR_TYPES_MAPS.get(fhir_type._prefix + resource_type + "Type")
        if path is None:
            raise _Unsure
        model = import_string(path)
        if not model.has_resource_base() or model.__resource_type__ != resource_type:
            raise _Unsure
        _RESOURCE_CLASSES[key] = model
    return model


def _check_primitive(adapter: Any, value: Any) -> None:
    kind = type(value)
    if kind is dict or kind is list or value is None:
        raise _Unsure
    memo = kind is not str or len(value) <= _MEMO_MAX_LEN
    key = (id(adapter), kind, value)
    if memo and key in _MEMO:
        return
    try:
        adapter.validate_python(value)
    except Exception:  # noqa: BLE001 - any refusal is fhir.resources' to word
        raise _Unsure from None
    if memo:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = True


def _check_value(spec_field: _Field, value: Any, depth: int) -> None:
    kind = spec_field.kind
    if kind == _PRIMITIVE:
        _check_primitive(spec_field.adapter, value)
    elif kind == _MODEL:
        if type(value) is not dict or "resourceType" in value:
            raise _Unsure
        _check_model(_spec(spec_field.model), value, resource=False, depth=depth)
    elif kind == _RESOURCE:
        if type(value) is not dict:
            raise _Unsure
        _check_model(_spec(_resource_class(spec_field.fhir_type, value.get("resourceType"))), value, resource=True,
                     depth=depth)
    else:
        raise _Unsure


def _check_model(spec: _Spec, data: dict[str, Any], *, resource: bool, depth: int) -> None:
    """``data`` is a JSON object at nesting level ``depth`` (1 for the body itself)."""
    if depth > MAX_DEPTH:
        raise _Unsure
    fields = spec.fields
    for key, value in data.items():
        spec_field = fields.get(key)
        if spec_field is None:
            if resource and key == "resourceType" and value == spec.resource_type:
                continue
            raise _Unsure
        if value is None:
            raise _Unsure
        if spec_field.is_list:
            if type(value) is not list or not value or depth == MAX_DEPTH:
                raise _Unsure  # (an array here would be one level too deep)
            for item in value:
                _check_value(spec_field, item, depth + 2)
        else:
            _check_value(spec_field, value, depth + 1)
    for key in spec.required:
        if key not in data:
            raise _Unsure
    for key in spec.required_primitives:
        if key not in data:
            raise _Unsure
    for group, required in spec.choices:
        present = 0
        for key in group:
            if key in data:
                present += 1
        if present > 1 or (required and not present):
            raise _Unsure


def accepts(model: type, body: Any) -> bool:
    """True when ``model.model_validate(body)`` (a fhir.resources R4B resource class) is sure to pass.
    False means "not sure": validate with the model."""
    if type(body) is not dict or body.get("resourceType") != model.__resource_type__:  # type: ignore[attr-defined]
        return False
    try:
        _check_model(_spec(model), body, resource=True, depth=1)
    except _Unsure:
        return False
    except RecursionError:
        return False
    return True


def deeper_than(body: Any, limit: int = MAX_DEPTH) -> bool:
    """Does ``body`` nest JSON objects and arrays more than ``limit`` levels deep? (Iterative: any depth.)"""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            children: Any = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if type(child) is dict or type(child) is list)
    return False
