"""Requests checked against the OpenAPI document before a handler runs.

The document is the truth about what a request may hold — path and query parameters, the JSON
body — and the server refuses, with a 400 naming the field, anything it does not allow. Handlers
then check what depends on state (does the table exist, may this user read it). A contract test
(schemathesis, in the suite) keeps the two honest: no request the document calls valid is refused
for its shape, none it calls invalid is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from agnes_core import ids
from agnes_core.errors import BadRequest, ValidationError

SPEC_URI = "urn:agnes:openapi"
_INT_RE = re.compile(r"^-?[0-9]{1,18}$")


class Operation:
    """One (path, method) of the document: its parameters and body schema, ready to check."""

    def __init__(self, spec: dict[str, Any], template: str, method: str, registry: Registry) -> None:
        self.template = template
        self.method = method
        path_item = spec["paths"][template]
        operation = path_item[method]
        self.parameters: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
            param = _resolve(spec, raw)
            self.parameters[(param["in"], param["name"])] = param
        body = operation.get("requestBody")
        self.body_required = bool(body and body.get("required"))
        self.body_validator: jsonschema.protocols.Validator | None = None
        schema = ((body or {}).get("content") or {}).get("application/json", {}).get("schema")
        if schema is not None:
            self.body_validator = _validator(schema, registry)
        self.param_validators = {key: _validator(p.get("schema", {}), registry) for key, p in self.parameters.items()}


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix(SPEC_URI).lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(schema: dict[str, Any], registry: Registry) -> jsonschema.protocols.Validator:
    cls = jsonschema.Draft202012Validator
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


class RequestValidator:
    """Finds the operation a request addresses and checks the request against it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # Local $refs ('#/components/...') resolve against the document itself.
        self._spec = _with_absolute_refs(spec)
        registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(self._spec))
        routes = []
        for template, item in self._spec["paths"].items():
            parts = re.split(r"(\{[^}]+\})", template)
            regex = re.compile("^" + "".join("([^/]+)" if p.startswith("{") else re.escape(p) for p in parts) + "$")
            names = re.findall(r"\{([^}]+)\}", template)
            ops = {m: Operation(self._spec, template, m, registry) for m in item
                   if m in ("get", "put", "post", "delete", "patch")}
            routes.append((len(names), regex, names, ops))
        # A literal segment wins over a parameter (scans/estimate before scans/{scan_id}).
        self._routes = sorted(routes, key=lambda r: r[0])

    def operation(self, method: str, subpath: str) -> tuple[Operation, dict[str, str]] | None:
        for _, regex, names, ops in self._routes:
            m = regex.match(subpath)
            if m is not None:
                op = ops.get(method.lower())
                return (op, dict(zip(names, m.groups(), strict=True))) if op is not None else None
        return None

    def check(self, op: Operation, path_args: dict[str, str], query: dict[str, list[str]], has_body: bool,
              body: Callable[[], Any]) -> None:
        for (location, name), param in op.parameters.items():
            validator = op.param_validators[(location, name)]
            if location == "path":
                if name in path_args:
                    _check_value(validator, _coerce(path_args[name], param, name), name)
            elif location == "query":
                values = query.get(name)
                if not values:
                    if param.get("required"):
                        raise ValidationError(name, f"the query argument {name} is required")
                    continue
                if len(values) > 1 and (param.get("schema") or {}).get("type") != "array":
                    raise ValidationError(name, f"the query argument {name} is given {len(values)} times; "
                                          "give it once")
                _check_value(validator, _coerce(values[-1], param, name), name)
        if not has_body:
            if op.body_required:
                raise BadRequest("this request needs a JSON body", hint="GET agnes/v1/openapi.json describes it.",
                                 details={"field": "body"})
            return
        if op.body_validator is not None:
            value = body()
            error = _most_specific(list(op.body_validator.iter_errors(value)))
            if error is not None:
                raise _body_error(error)


_COMBINATORS = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref"})


def _most_specific(errors: list[jsonschema.exceptions.ValidationError]) -> jsonschema.exceptions.ValidationError | None:
    """The error that says most precisely what is wrong: the deepest in the instance, from inside
    allOf/oneOf compositions (whose own errors only say that a branch failed)."""
    found: list[jsonschema.exceptions.ValidationError] = []
    stack = list(errors)
    while stack:
        error = stack.pop()
        if error.validator in _COMBINATORS and error.context:
            stack.extend(error.context)
        else:
            found.append(error)
    if not found:
        return jsonschema.exceptions.best_match(errors)
    return max(found, key=lambda e: (len(e.absolute_path), e.validator not in ("required", False)))


def _body_error(error: jsonschema.exceptions.ValidationError) -> ValidationError:
    """A 400 naming the field (``details.field``: the top-level property; ``details.path``: where
    exactly) in words a person reads, with the limit when one was passed."""
    path = list(error.absolute_path)
    where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
    details: dict[str, Any] = {}
    instance, keyword, expected = error.instance, error.validator, error.validator_value
    if keyword == "required" and isinstance(instance, dict):
        missing = next((p for p in expected if p not in instance), "?")
        path, where = [*path, missing], f"{where}.{missing}" if where else str(missing)
        message = f"{where} is required"
    elif keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        unexpected = re.findall(r"'([^']*)' (?:was|were) unexpected", error.message) or re.findall(
            r"'([^']*)'", error.message)
        extra = unexpected[0] if unexpected else "?"
        path, where = [*path, extra], f"{where}.{extra}" if where else str(extra)
        message = f"unknown field {extra!r}"
    elif keyword is False or error.schema is False:
        message = f"{where or 'body'} is not allowed here"
    elif keyword in ("maxLength", "minLength"):
        details["limit"] = expected
        word = "at most" if keyword == "maxLength" else "at least"
        message = f"{where or 'body'} must be {word} {expected} characters (got {len(instance)})"
    elif keyword in ("maxItems", "minItems"):
        details["limit"] = expected
        word = "at most" if keyword == "maxItems" else "at least"
        message = f"{where or 'body'} may hold {word} {expected} items (got {len(instance)})"
    elif keyword in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
        details["limit"] = expected
        message = f"{where or 'body'}: {_short(error.message)}"
    elif keyword == "enum":
        message = f"{where or 'body'} must be one of {', '.join(map(repr, expected))}; got {_short(repr(instance), 60)}"
    elif keyword == "pattern" and isinstance(instance, str) and expected in _TEXT_CHECKS:
        message = _text_message(instance, where or "body", _TEXT_CHECKS[expected])
    elif keyword == "pattern" and expected == ids.NOT_BLANK_PATTERN:
        message = f"{where or 'body'} must not be blank"
    elif keyword == "pattern":
        message = f"{where or 'body'} does not match {expected}; got {_short(repr(instance), 60)}"
    else:
        message = f"{where or 'body'}: {_short(error.message)}"
    # The field: object keys down to the first list index (tags[3] is the field tags, index 3).
    keys: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            details["index"] = part
            details["path"] = where
            break
        keys.append(str(part))
        if i == len(path) - 1:
            break
    field = ".".join(keys) or "body"
    return ValidationError(field, message, hint="GET agnes/v1/openapi.json describes the request body.", **details)


#: Text patterns whose refusals the server words itself (the character, and where it is).
_TEXT_CHECKS: dict[str, str] = {ids.LINE_TEXT_PATTERN: "line", ids.TEXT_PATTERN: "text",
                                ids.USERNAME_PATTERN: "username"}


def _text_message(value: str, where: str, kind: str) -> str:
    try:
        if kind == "username":
            ids.username(value, where)
        else:
            ids.text(value, where, len(value), multiline=kind == "text")
    except ValidationError as exc:
        return exc.message
    return f"{where} is not allowed text"


def _coerce(raw: str, param: dict[str, Any], name: str) -> Any:
    """A parameter's text as the value its schema types it as (the text itself if it is not one)."""
    schema = param.get("schema") or {}
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and _INT_RE.match(raw):
        return int(raw)
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            return raw
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def _check_value(validator: jsonschema.protocols.Validator, value: Any, name: str) -> None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        raise ValidationError(name, f"{name}: {_short(error.message)}",
                              hint="GET agnes/v1/openapi.json describes the route's arguments.")


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _with_absolute_refs(node: Any) -> Any:
    """The document with '#/...' references made absolute, so they resolve from any sub-schema."""
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else
                    _with_absolute_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_absolute_refs(v) for v in node]
    return node
