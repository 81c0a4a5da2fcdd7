"""The QBO query language: parse ``SELECT ... FROM ... WHERE ...`` and evaluate conditions on objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbsync.sandbox import apifault, catalog

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_CAP = 1000

Value = str | bool | Decimal


@dataclass(frozen=True)
class Cond:
    path: tuple[str, ...]  # lower-case segments: ("metadata", "lastupdatedtime")
    op: str  # "=", "<", ">", "<=", ">=", "in", "like"
    values: tuple[Value, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    conds: list[Cond] = field(default_factory=list)
    order: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)  # (path, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS

    def mentions(self, prop: str) -> bool:
        return any(c.path == (prop,) for c in self.conds)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:\\.|''|[^'\\])*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),*;])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise apifault.query_parse_error(
                f'Encountered " "{text[pos]}" "{text[pos]} "" at line 1, column {pos + 1}.')
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return out


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)|''", lambda m: m.group(1) if m.group(1) is not None else "'", body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def kw(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "ident" and t.text.upper() == word

    def fail(self, expected: str) -> apifault.ApiFault:
        t = self.peek()
        if t is None:
            return apifault.query_parse_error(f"Encountered \"<EOF>\" at line 1, column {len(self.text) + 1}."
                                              f"\nWas expecting: {expected}")
        return apifault.query_parse_error(
            f'Encountered " <{t.kind.upper()}> "{t.text} "" at line 1, column {t.pos + 1}.'
            f"\nWas expecting: {expected}")

    def take(self, kind: str, text: str | None = None) -> _Tok:
        t = self.peek()
        if t is None or t.kind != kind or (text is not None and t.text.upper() != text):
            raise self.fail(text or kind)
        self.i += 1
        return t

    def take_kw(self, word: str) -> None:
        if not self.kw(word):
            raise self.fail(word)
        self.i += 1

    def int_value(self, what: str) -> int:
        t = self.take("num")
        try:
            return int(t.text)
        except ValueError:
            raise apifault.query_parse_error(f"{what} must be an integer, got {t.text}") from None

    def value(self) -> Value:
        t = self.peek()
        if t is None:
            raise self.fail("a value")
        self.i += 1
        if t.kind == "str":
            return _unquote(t.text)
        if t.kind == "num":
            return Decimal(t.text)
        if t.kind == "ident" and t.text.lower() in ("true", "false"):
            return t.text.lower() == "true"
        self.i -= 1
        raise self.fail("a quoted string, a number, true or false")

    def parse(self) -> Query:
        self.take_kw("SELECT")
        count = False
        if self.kw("COUNT"):
            self.i += 1
            self.take("punct", "(")
            self.take("punct", "*")
            self.take("punct", ")")
            count = True
        else:
            # "SELECT *", "SELECT *, Sku" and field lists all return whole objects here.
            while True:
                t = self.peek()
                if t is not None and ((t.kind == "punct" and t.text == "*") or
                                      (t.kind == "ident" and t.text.upper() != "FROM")):
                    self.i += 1
                else:
                    raise self.fail('"*"')
                if self.peek() is not None and self.peek().kind == "punct" and self.peek().text == ",":  # type: ignore[union-attr]
                    self.i += 1
                    continue
                break
        self.take_kw("FROM")
        ent_tok = self.take("ident")
        entity = catalog.qbo_entity(ent_tok.text)  # one the sandbox holds none of answers empty
        if entity is None:
            raise apifault.query_invalid(f"invalid context declaration: {ent_tok.text}")
        q = Query(entity=entity, count=count)
        if self.kw("WHERE"):
            self.i += 1
            q.conds.append(self.cond())
            while self.kw("AND"):
                self.i += 1
                q.conds.append(self.cond())
            if self.kw("OR"):
                raise apifault.query_parse_error("OR is not supported: run one query per alternative")
        seen_start = seen_max = False
        while self.peek() is not None:
            if self.kw("ORDERBY") or (self.kw("ORDER") and self.kw("BY", 1)):
                self.i += 1 if self.kw("ORDERBY") else 2
                q.order.append(self.order_item())
                while self.peek() is not None and self.peek().kind == "punct" and self.peek().text == ",":  # type: ignore[union-attr]
                    self.i += 1
                    q.order.append(self.order_item())
            elif self.kw("STARTPOSITION") and not seen_start:
                self.i += 1
                q.start = max(1, self.int_value("STARTPOSITION"))
                seen_start = True
            elif self.kw("MAXRESULTS") and not seen_max:
                self.i += 1
                q.max_results = min(MAX_RESULTS_CAP, max(0, self.int_value("MAXRESULTS")))
                seen_max = True
            elif self.peek().kind == "punct" and self.peek().text == ";" and self.i == len(self.toks) - 1:  # type: ignore[union-attr]
                self.i += 1
            else:
                raise self.fail("ORDERBY, STARTPOSITION, MAXRESULTS or <EOF>")
        return q

    def prop(self) -> tuple[str, ...]:
        t = self.take("ident")
        return tuple(p.lower() for p in t.text.split(".") if p)

    def order_item(self) -> tuple[tuple[str, ...], bool]:
        path = self.prop()
        desc = False
        if self.kw("DESC"):
            self.i += 1
            desc = True
        elif self.kw("ASC"):
            self.i += 1
        return path, desc

    def cond(self) -> Cond:
        path = self.prop()
        t = self.peek()
        if t is not None and t.kind == "op":
            if t.text in ("!=", "<>"):
                raise apifault.query_parse_error(f"operator {t.text} is not supported")
            self.i += 1
            return Cond(path, t.text, (self.value(),))
        if self.kw("IN"):
            self.i += 1
            self.take("punct", "(")
            vals = [self.value()]
            while self.peek() is not None and self.peek().kind == "punct" and self.peek().text == ",":  # type: ignore[union-attr]
                self.i += 1
                vals.append(self.value())
            self.take("punct", ")")
            return Cond(path, "in", tuple(vals))
        if self.kw("LIKE"):
            self.i += 1
            v = self.value()
            if not isinstance(v, str):
                raise self.fail("a quoted pattern")
            return Cond(path, "like", (v,))
        raise self.fail("=, <, >, <=, >=, IN or LIKE")


def parse(text: str) -> Query:
    """Parse a QBO query; raises ApiFault 4000 (syntax) or 4001 (unknown entity)."""
    if not text or not text.strip():
        raise apifault.query_parse_error("empty query")
    return _Parser(text.strip()).parse()


# ---- evaluation on decoded objects (the path no index covers) ----

def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    """Case-insensitive dotted lookup; a Ref resolves to its value, an address/phone to its text."""
    cur: Any = obj
    for seg in path:
        if not isinstance(cur, dict):
            return None
        if seg in cur:
            cur = cur[seg]
            continue
        for k, v in cur.items():
            if k.lower() == seg:
                cur = v
                break
        else:
            return None
    if isinstance(cur, dict):
        for k in ("value", "Address", "FreeFormNumber", "URI"):
            if k in cur:
                return cur[k]
    return cur


_DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def _as_instant(s: str) -> datetime | None:
    try:
        t = s[:-1] + "+00:00" if s.endswith("Z") else s
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _cmp_key(stored: Any, wanted: Value) -> tuple[Any, Any] | None:
    """Comparable pair (stored, wanted), or None when they cannot be compared."""
    if stored is None:
        return None
    if isinstance(wanted, bool) or isinstance(stored, bool):
        if isinstance(stored, bool) and isinstance(wanted, bool):
            return stored, wanted
        return str(stored).lower(), str(wanted).lower()
    if isinstance(stored, (int, float)) or isinstance(wanted, Decimal):
        try:
            return Decimal(str(stored)), Decimal(str(wanted))
        except InvalidOperation:
            return str(stored).lower(), str(wanted).lower()
    s = str(stored)
    w = str(wanted)
    if _DT_RE.match(s) and (_DT_RE.match(w) or len(w) == 10):
        a, b = _as_instant(s), _as_instant(w if len(w) > 10 else w + "T00:00:00")
        if a is not None and b is not None:
            return a, b
    try:
        # Numeric columns compared with quoted numbers: TotalAmt > '300.00'.
        if isinstance(stored, (int, float)):
            return Decimal(str(stored)), Decimal(w)
    except InvalidOperation:
        pass
    return s.lower(), w.lower()


def like_regex(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.split("%")]
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def matches(obj: dict[str, Any], cond: Cond) -> bool:
    stored = lookup(obj, cond.path)
    if cond.op == "like":
        return stored is not None and bool(like_regex(str(cond.values[0])).match(str(stored)))
    if cond.op == "in":
        for v in cond.values:
            pair = _cmp_key(stored, v)
            if pair is not None and pair[0] == pair[1]:
                return True
        return False
    pair = _cmp_key(stored, cond.values[0])
    if pair is None:
        return False
    a, b = pair
    try:
        if cond.op == "=":
            return bool(a == b)
        if cond.op == "<":
            return bool(a < b)
        if cond.op == ">":
            return bool(a > b)
        if cond.op == "<=":
            return bool(a <= b)
        if cond.op == ">=":
            return bool(a >= b)
    except TypeError:
        return False
    return False


def sort_value(obj: dict[str, Any], path: tuple[str, ...]) -> tuple[int, Any]:
    v = lookup(obj, path)
    if v is None:
        return (0, "")
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (1, float(v))
    s = str(v)
    if _DT_RE.match(s):
        dt = _as_instant(s)
        if dt is not None:
            return (1, dt.timestamp())
    try:
        # Ids and other numeric strings sort as numbers.
        return (1, float(s)) if s.isdigit() else (2, s.lower())
    except ValueError:
        return (2, s.lower())
