"""The `.lrprev` header is a Lua table (`pyramid = { ... }`): a tiny parser for Lua's data subset.
Nothing is ever evaluated: strings, numbers, booleans, nil and nested tables only, bounded in size
and depth."""
from __future__ import annotations

import re

MAX_HEADER_TEXT = 1 << 20


class HeaderSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+|--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--[^\n]*)
  | (?P<longstr>\[(?P<eq>=*)\[.*?\](?P=eq)\])
  | (?P<str>"(?:[^"\\\n]|\\.|\\\n)*"|'(?:[^'\\\n]|\\.|\\\n)*')
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>[{}\[\]=,;-])
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "\n": "\n"}
MAX_DEPTH = 32


def _unescape(body: str) -> str:
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise HeaderSyntaxError("string ends in a backslash")
        c = body[i]
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
            i += 1
        elif c.isdigit():
            m = re.match(r"\d{1,3}", body[i:])
            out.append(chr(int(m.group())))
            i += len(m.group())
        elif c == "x" and re.match(r"[0-9a-fA-F]{2}", body[i + 1:i + 3]):
            out.append(chr(int(body[i + 1:i + 3], 16)))
            i += 3
        elif c == "u" and (m := re.match(r"\{([0-9a-fA-F]{1,6})\}", body[i + 1:])):
            out.append(chr(min(int(m.group(1), 16), 0x10FFFF)))
            i += 1 + len(m.group())
        elif c == "z":
            i += 1
            while i < n and body[i].isspace():
                i += 1
        else:
            raise HeaderSyntaxError(f"unknown escape \\{c}")
    return "".join(out)


def _tokens(text: str):
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HeaderSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "ceq"):
            continue
        if kind in ("longstr", "eq"):
            raw = m.group("longstr")
            level = len(m.group("eq"))
            body = raw[level + 2:-(level + 2)]
            yield "str", body[1:] if body.startswith("\n") else body
        elif kind == "str":
            yield "str", _unescape(m.group("str")[1:-1])
        elif kind == "num":
            s = m.group("num")
            yield "num", int(s, 16) if s[:2] in ("0x", "0X") else (
                float(s) if any(ch in s for ch in ".eE") else int(s))
        elif kind == "name":
            yield "name", m.group("name")
        else:
            yield "op", m.group("op")
    yield "end", None


class _Parser:
    def __init__(self, text: str):
        self.tokens = list(_tokens(text))
        self.i = 0

    def peek(self, ahead: int = 0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self, kind: str, value=None):
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise HeaderSyntaxError(f"expected {value or kind}, found {tok[1]!r}")
        self.i += 1
        return tok[1]

    def value(self, depth: int):
        kind, val = self.peek()
        if kind == "op" and val == "{":
            return self.table(depth + 1)
        if kind == "op" and val == "-" and self.peek(1)[0] == "num":
            self.i += 2
            return -self.tokens[self.i - 1][1]
        if kind in ("str", "num"):
            self.i += 1
            return val
        if kind == "name" and val in ("true", "false", "nil"):
            self.i += 1
            return {"true": True, "false": False, "nil": None}[val]
        raise HeaderSyntaxError(f"unexpected {val!r}")

    def table(self, depth: int):
        if depth > MAX_DEPTH:
            raise HeaderSyntaxError("tables nested too deeply")
        self.take("op", "{")
        keyed: dict = {}
        positional: list = []
        while not (self.peek() == ("op", "}")):
            kind, val = self.peek()
            if kind == "name" and self.peek(1) == ("op", "="):
                self.i += 2
                keyed[val] = self.value(depth)
            elif kind == "op" and val == "[":
                self.i += 1
                key = self.value(depth)
                self.take("op", "]")
                self.take("op", "=")
                keyed[key] = self.value(depth)
            else:
                positional.append(self.value(depth))
            if self.peek() in (("op", ","), ("op", ";")):
                self.i += 1
            elif self.peek() != ("op", "}"):
                raise HeaderSyntaxError(f"expected , or }} in table, found {self.peek()[1]!r}")
        self.take("op", "}")
        if not keyed:
            return positional
        for n, v in enumerate(positional, 1):
            keyed.setdefault(n, v)
        return keyed

    def chunk(self) -> dict:
        out: dict = {}
        while self.peek()[0] != "end":
            name = self.take("name")
            if name == "local":
                name = self.take("name")
            self.take("op", "=")
            out[name] = self.value(0)
            if self.peek() == ("op", ";"):
                self.i += 1
        return out


def parse_header(text: str) -> dict:
    """`pyramid = { ... }` -> {"pyramid": {...}}. Lua tables become dicts (keyed) or lists
    (positional only). Raises HeaderSyntaxError; nothing is ever evaluated."""
    if len(text) > MAX_HEADER_TEXT:
        raise HeaderSyntaxError("header text too large")
    return _Parser(text).chunk()
