"""Label and field selectors, parsed the way the API server reads them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.sandbox.kube_status import ApiError, bad_request

Matcher = Callable[[Mapping[str, str]], bool]

_SET_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*))?\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split at commas that are not inside ``( … )`` (set-based terms hold commas)."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _term(term: str) -> Matcher:
    if m := _SET_TERM.match(term):
        key, op, raw = m.group(1), m.group(2), m.group(3)
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _EQ_TERM.match(term)
    if not m:
        raise bad_request(
            f"unable to parse requirement: found '{term.strip()}', expected: key, operator or value"
        )
    negate, key, op, value = m.group(1), m.group(2), m.group(3), m.group(4)
    if negate:
        if op:
            raise bad_request(f"unable to parse requirement: found '{op}', expected: ',' or 'end of string'")
        return lambda labels: key not in labels
    if op is None:
        return lambda labels: key in labels
    if op == "!=":
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


def label_matcher(selector: str | None) -> Matcher:
    """``key``, ``!key``, ``key=v``, ``key==v``, ``key!=v``, ``key in (a,b)``, ``key notin (a,b)``, ANDed."""
    if not selector:
        return lambda labels: True
    terms = [_term(t) for t in _split_terms(selector)]
    return lambda labels: all(t(labels) for t in terms)


def _lookup(obj: Mapping[str, Any], path: str) -> str | None:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return None if current is None else str(current)


def field_matcher(selector: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """Equality field selectors: ``metadata.name=x``, ``involvedObject.name==x``, ``status.phase!=Failed``."""
    if not selector:
        return lambda obj: True
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in _split_terms(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise ApiError(400, "BadRequest", f'invalid field selector: "{term}"')
        path, op, value = m.groups()
        checks.append(_field_check(path, op, value))
    return lambda obj: all(c(obj) for c in checks)


def _field_check(path: str, op: str, value: str) -> Callable[[Mapping[str, Any]], bool]:
    if op == "!=":
        return lambda obj: _lookup(obj, path) != value
    return lambda obj: (_lookup(obj, path) or "") == value
