"""CLIP's byte-level BPE tokenizer in plain Python, loaded in a few milliseconds from a compact file
kept in the library, for text queries.

Why: `tokenizers.Tokenizer.from_file` spends ~0.3 s (holding the GIL) parsing CLIP's 3.6 MB
tokenizer.json and its 48,894 merges, most of a cold `trove search`; one short query needs a few
dozen merge lookups.

What it does, exactly as `tokenizers` does with a CLIP tokenizer.json (and TextTokenizer's
truncation and padding):
  1. added tokens (<|startoftext|>, <|endoftext|>, ...) are cut out of the raw text first;
  2. each piece between them is normalized: NFC, runs of whitespace -> " ", lower case (character by
     character, as Rust's `char::to_lowercase`: "Σ" is always "σ");
  3. split by CLIP's pattern (contractions, runs of letters, single digits, runs of other
     symbols; whitespace dropped);
  4. each part's UTF-8 bytes mapped to GPT-2's printable characters, the last one with "</w>", and
     merged by rank the way tokenizers' BPE merges (lowest rank first, leftmost first);
  5. <start> + the first context-2 tokens + <end>, padded.

Unicode data: Python's `unicodedata` and the Rust libraries under `tokenizers` (oniguruma's \\p{L},
\\p{N}, \\s; its NFC; Rust's lower case) need not be the same Unicode version (tokenizers 0.23's NFC,
for one, does not know the canonical ordering of combining marks added since Unicode 11). When
the compact file is made, every character Python knows is run through the installed tokenizers'
own normalizer and pre-tokenizer and compared with what this module does with it; characters
that differ are kept in the file, and a text with one of them (or with a character Python's
Unicode does not have) goes to `tokenizers` itself. Then a probe set of whole texts must give the
same ids as `tokenizers` or the model keeps `tokenizers` (the verdict is kept in meta.json).

The file lives in the model's cache folder (cache.py) as the entry `textual-tokenizer-<key>`, the
key hashing tokenizer.json (path, size, mtime), the context length and pad token, the installed
tokenizers library and Python's Unicode version. A tokenizer.json that is not CLIP's byte-level BPE
(SigLIP's sentencepiece, anything unexpected) gets an entry saying so, and keeps `tokenizers`.
"""
from __future__ import annotations

import array
import bisect
import heapq
import json
import os
import re
import sys
import unicodedata
import zlib
from pathlib import Path

from .tokenize import TextTokenizer, tokenizer_settings

NAME = "textual-tokenizer"        # the cache entry's name
FILE = "tokenizer.bpe"            # its compact file
FORMAT = 1                        # of the compact file and of what this module does: part of the key
MAGIC = b"TROVEBPE"
VERDICT = "fast_tokenizer"        # meta.json: True = use this module, False = keep `tokenizers`

# Unicode's White_Space property: what oniguruma's \s matches (checked against it when the file is made)
WHITE_SPACE = frozenset(map(chr, [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                  0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))
_WS_RUN = re.compile("[" + "".join(sorted(WHITE_SPACE)).replace("\\", "\\\\") + "]+")
# what the split pattern sees of a character that is not ASCII: one stand-in per class
_L, _N, _O = "\ue000", "\ue001", "\ue002"
_CORE = r"'s|'t|'re|'ve|'m|'ll|'d|[A-Za-z\ue000]+|[0-9\ue001]|[^ A-Za-z0-9\ue000\ue001]+"
# CLIP's split pattern as tokenizer.json spells it (a few equivalent spellings), special tokens first
_CLIP_PATTERN = (r"(?P<specials>(?:<\\\|[A-Za-z_]+\\\|>\|)*)'s\|'t\|'re\|'ve\|'m\|'ll\|'d\|"
                 r"(?:\[\\p\{L\}\]|\\p\{L\})\+\|(?:\[\\p\{N\}\]|\\p\{N\})\|\[\^\\s\\p\{L\}\\p\{N\}\]\+")
# GPT-2's pattern (ByteLevel with use_regex), ASCII only: applied to special-token parts alone
_GPT2_ASCII = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+", re.ASCII)
_STEPS = {"NFC": "nfc", "Lowercase": "lower"}


class NotClip(ValueError):
    """The tokenizer.json is not one this module reproduces (the reason is the message)."""


def bytes_to_unicode() -> list[str]:
    """GPT-2's reversible byte -> printable character table, by byte."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


class _Classes(dict):
    """A str.translate table: each character as the split pattern sees it (ASCII as itself, except
    whitespace, which becomes " "; anything else as its class's stand-in)."""

    def __missing__(self, code: int) -> int:
        c = chr(code)
        if c in WHITE_SPACE:
            v = 32
        elif code < 128:
            v = code
        else:
            cat = unicodedata.category(c)[0]
            v = ord(_L if cat == "L" else _N if cat == "N" else _O)
        self[code] = v
        return v


_CLASSES = _Classes()


def _lower(s: str) -> str:
    """Lower case character by character, as tokenizers does (Python's str.lower differs only in
    making a final capital sigma "ς")."""
    return "".join([c.lower() for c in s]) if "Σ" in s else s.lower()


# -- the tokenizer -----------------------------------------------------------------------------------
class ClipBpeTokenizer:
    """The same interface as TextTokenizer (encode, __call__, context_length, pad_id)."""

    def __init__(self, config: dict, arrays: dict, *, context_length: int, tokenizer_json: str | Path | None = None,
                 pad_token: str | None = None, clean: str | None = None):
        self.context_length = int(context_length)
        if self.context_length < 3:
            raise NotClip(f"context length {context_length} is too short")
        self.clean = clean
        self.config = config
        self.pad_id = int(config["pad_id"])
        self.bos, self.eos = int(config["bos"]), int(config["eos"])
        self.steps = tuple(config["steps"])
        self.use_regex = bool(config["use_regex"])
        self.stride = int(config["stride"])
        self.base, self.base_end = list(arrays["base"]), list(arrays["base_end"])
        self.keys, self.vals = arrays["keys"], arrays["vals"]
        self.unsafe = frozenset(map(chr, arrays["unsafe"]))
        self.added = {content: int(i) for content, i in config["added"]}
        self._added_re = re.compile("(" + "|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True))
                                    + ")") if self.added else None
        specials = ["<|" + name + "|>" for name in config["specials"]]
        self.specials = frozenset(specials)
        self._split = re.compile("".join(re.escape(s) + "|" for s in specials) + _CORE)
        self._tokenizer_json = tokenizer_json
        self._pad_token = pad_token
        self._hf = None
        self._words: dict[str, tuple[int, ...]] = {}
        self.fallbacks = 0            # texts given to `tokenizers` (characters this module does not vouch for)

    # the interface: TextTokenizer's own (the same cleaning, shapes and dtypes)
    encode = TextTokenizer.encode
    __call__ = TextTokenizer.__call__

    def _encode(self, texts: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        rows = [self.encode_one(t) for t in texts]
        hard = [i for i, r in enumerate(rows) if r is None]
        if hard:
            self.fallbacks += len(hard)
            ids, mask = self.hf()._encode([texts[i] for i in hard])
            for i, a, m in zip(hard, ids, mask):
                rows[i] = (a, m)
        return [r[0] for r in rows], [r[1] for r in rows]

    def hf(self) -> TextTokenizer:
        """`tokenizers` itself, for the texts this module leaves to it (loaded when first needed)."""
        if self._hf is None:
            if self._tokenizer_json is None:
                raise RuntimeError("no tokenizer.json to fall back on")
            self._hf = TextTokenizer(self._tokenizer_json, context_length=self.context_length,
                                     pad_token=self._pad_token, pad_id=self.pad_id)
        return self._hf

    # the work
    def encode_one(self, text: str) -> tuple[list[int], list[int]] | None:
        """(ids, mask) of one text, or None when it has a character left to `tokenizers`."""
        if self._risky(text):
            return None
        limit = self.context_length - 2
        tokens: list[int] = []
        parts = self._added_re.split(text) if self._added_re is not None else [text]
        for k, part in enumerate(parts):
            if k % 2:                       # an added token, as itself
                tokens.append(self.added[part])
            elif part:
                norm = self._normalize(part)
                if norm is not part and self._risky(norm):
                    return None
                for word in self._words_of(norm):
                    tokens.extend(self._bpe(word))
                    if len(tokens) >= limit:
                        break
            if len(tokens) >= limit:
                break
        ids = [self.bos, *tokens[:limit], self.eos]
        n = len(ids)
        pad = self.context_length - n
        return ids + [self.pad_id] * pad, [1] * n + [0] * pad

    def _risky(self, text: str) -> bool:
        unsafe = self.unsafe
        if text.isascii():
            return bool(unsafe) and not unsafe.isdisjoint(text)
        for c in set(text):
            if c in unsafe:
                return True
            if c >= "\x80" and not _checked(c):
                return True
        return False

    def _normalize(self, s: str) -> str:
        for step in self.steps:
            if step == "nfc":
                if not s.isascii():
                    s = unicodedata.normalize("NFC", s)
            elif step == "ws":
                s = _WS_RUN.sub(" ", s)
            else:
                s = _lower(s)
        return s

    def _words_of(self, s: str) -> list[str]:
        """The pre-tokenizer: the split pattern's matches, as the text they cover."""
        words = [s[m.start():m.end()] for m in self._split.finditer(s.translate(_CLASSES))]
        if self.use_regex and self.specials:   # ByteLevel's own GPT-2 split: it cuts a special token apart
            out = []
            for w in words:
                out.extend(_GPT2_ASCII.findall(w) if w in self.specials else (w,))
            words = out
        return words

    def _bpe(self, word: str) -> tuple[int, ...]:
        got = self._words.get(word)
        if got is not None:
            return got
        data = word.encode("utf-8", "surrogatepass")
        base = self.base
        sym = [base[b] for b in data]
        sym[-1] = self.base_end[data[-1]]
        got = tuple(self._merge(sym))
        if len(self._words) < 50_000:
            self._words[word] = got
        return got

    def _pair(self, a: int, b: int) -> int:
        """rank << 32 | merged id, or -1."""
        k = a * self.stride + b
        keys = self.keys
        i = bisect.bisect_left(keys, k)
        return self.vals[i] if i < len(keys) and keys[i] == k else -1

    def _merge(self, sym: list[int]) -> list[int]:
        """tokenizers' BPE `merge_all`: the pair of lowest rank (then leftmost) merged first, until none is left."""
        n = len(sym)
        if n < 2:
            return sym
        pair = self._pair
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        prv = list(range(-1, n - 1))
        alive = [True] * n
        heap = []
        for i in range(n - 1):
            v = pair(sym[i], sym[i + 1])
            if v >= 0:
                heap.append((v >> 32, i, v & 0xFFFFFFFF))
        heapq.heapify(heap)
        while heap:
            _rank, pos, new = heapq.heappop(heap)
            if not alive[pos]:
                continue
            j = nxt[pos]
            if j == -1:
                continue
            v = pair(sym[pos], sym[j])
            if v < 0 or (v & 0xFFFFFFFF) != new:
                continue       # a stale entry: these two symbols are no longer neighbours
            sym[pos] = new
            alive[j] = False
            k = nxt[j]
            nxt[pos] = k
            if k != -1:
                prv[k] = pos
            p = prv[pos]
            if p >= 0:
                v = pair(sym[p], new)
                if v >= 0:
                    heapq.heappush(heap, (v >> 32, p, v & 0xFFFFFFFF))
            if k != -1:
                v = pair(new, sym[k])
                if v >= 0:
                    heapq.heappush(heap, (v >> 32, pos, v & 0xFFFFFFFF))
        return [s for s, a in zip(sym, alive) if a]


# -- tokenizer.json -> the compact form ---------------------------------------------------------------
def recognize(spec: dict, pad_token: str | None) -> tuple[dict, dict]:
    """(config, arrays) for a CLIP byte-level BPE tokenizer.json (parsed); NotClip otherwise."""
    if not isinstance(spec, dict):
        raise NotClip("not a tokenizer.json")
    steps = []
    norm = spec.get("normalizer")
    items = [] if norm is None else norm.get("normalizers") if norm.get("type") == "Sequence" else [norm]
    for n in items or []:
        kind = n.get("type") if isinstance(n, dict) else None
        step = _STEPS.get(kind)
        if kind == "Replace" and n.get("pattern") == {"Regex": r"\s+"} and n.get("content") == " ":
            step = "ws"
        if step is None or step in steps:
            raise NotClip(f"normalizer {kind}")
        steps.append(step)

    pre = spec.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not parts or len(parts) != 2 or [p.get("type") for p in parts] != ["Split", "ByteLevel"]:
        raise NotClip(f"pre-tokenizer {pre.get('type')}")
    split, level = parts
    pattern = (split.get("pattern") or {}).get("Regex")
    m = re.fullmatch(_CLIP_PATTERN, pattern) if isinstance(pattern, str) else None
    if m is None or split.get("behavior") != "Removed" or split.get("invert") is not True:
        raise NotClip("not CLIP's split pattern")
    specials = re.findall(r"<\\\|([A-Za-z_]+)\\\|>", m.group("specials"))
    if level.get("add_prefix_space", True) is not False:
        raise NotClip("ByteLevel adds a prefix space")
    use_regex = level.get("use_regex", True)
    if not isinstance(use_regex, bool):
        raise NotClip("ByteLevel use_regex")

    model = spec.get("model") or {}
    if model.get("type", "BPE") != "BPE":
        raise NotClip(f"model {model.get('type')}")
    if model.get("dropout") not in (None, 0, 0.0) or model.get("continuing_subword_prefix") not in (None, "") \
            or model.get("byte_fallback") or model.get("ignore_merges"):
        raise NotClip("BPE options")
    suffix = model.get("end_of_word_suffix")
    if not suffix or not isinstance(suffix, str):
        raise NotClip("no end-of-word suffix")
    vocab, merges = model.get("vocab"), model.get("merges")
    if not isinstance(vocab, dict) or not isinstance(merges, list) or not vocab:
        raise NotClip("BPE vocab/merges")
    if not all(isinstance(i, int) and 0 <= i < 1 << 31 for i in vocab.values()) or \
            len(set(vocab.values())) != len(vocab):
        raise NotClip("BPE vocab ids")
    chars = bytes_to_unicode()
    base = [vocab.get(c) for c in chars]
    base_end = [vocab.get(c + suffix) for c in chars]
    if None in base or None in base_end:
        raise NotClip("a byte has no token")

    added = []
    for t in spec.get("added_tokens") or []:
        if not isinstance(t, dict) or not t.get("content") or not isinstance(t.get("id"), int) or \
                t.get("normalized") or t.get("single_word") or t.get("lstrip") or t.get("rstrip"):
            raise NotClip("added token options")
        added.append((t["content"], t["id"]))
    added_ids = dict(added)
    if len(added_ids) != len(added):
        raise NotClip("added tokens repeat")
    bos, eos = _specials(spec.get("post_processor"))

    stride = max([*vocab.values(), *added_ids.values()]) + 1
    table: dict[int, int] = {}
    for rank, merge in enumerate(merges):
        if isinstance(merge, str):
            pair = merge.split(" ")
        elif isinstance(merge, list):
            pair = merge
        else:
            raise NotClip("a merge")
        if len(pair) != 2 or not all(isinstance(s, str) for s in pair):
            raise NotClip("a merge")
        a, b = pair
        ia, ib, new = vocab.get(a), vocab.get(b), vocab.get(a + b)
        if ia is None or ib is None or new is None:
            raise NotClip(f"merge {a!r} {b!r} is not in the vocabulary")
        table[ia * stride + ib] = rank << 32 | new    # a repeated pair: the last one counts, as in tokenizers
    keys = sorted(table)

    pad_id = None
    if pad_token:   # as TextTokenizer: token_to_id (added tokens first), else 0
        pad_id = added_ids.get(pad_token, vocab.get(pad_token))
    config = {"format": FORMAT, "steps": steps, "specials": specials, "use_regex": use_regex,
              "added": added, "bos": bos, "eos": eos, "pad_id": 0 if pad_id is None else pad_id,
              "stride": stride}
    arrays = {"base": array.array("q", base), "base_end": array.array("q", base_end),
              "keys": array.array("q", keys), "vals": array.array("q", [table[k] for k in keys]),
              "unsafe": array.array("q")}
    return config, arrays


def _specials(post) -> tuple[int, int]:
    """(start id, end id) of a post-processor that wraps a single text as <start> text <end>."""
    if isinstance(post, dict) and post.get("type") == "Sequence":
        rest = [p for p in post.get("processors") or [] if not (isinstance(p, dict) and p.get("type") == "ByteLevel")]
        post = rest[0] if len(rest) == 1 else None
    if not isinstance(post, dict):
        raise NotClip("post-processor")
    kind = post.get("type")
    try:
        if kind in ("RobertaProcessing", "BertProcessing"):
            (_, bos), (_, eos) = post["cls"], post["sep"]
        elif kind == "TemplateProcessing":
            first, seq, last = post["single"]
            if seq != {"Sequence": {"id": "A", "type_id": 0}}:
                raise NotClip("post-processor template")
            ids = []
            for item in (first, last):
                (ids_,) = [post["special_tokens"][item["SpecialToken"]["id"]]["ids"]]
                (one,) = ids_
                ids.append(one)
            bos, eos = ids
        else:
            raise NotClip(f"post-processor {kind}")
    except (KeyError, TypeError, ValueError):
        raise NotClip(f"post-processor {kind}") from None
    if not (isinstance(bos, int) and isinstance(eos, int)):
        raise NotClip("post-processor ids")
    return bos, eos


_ORDER = ("base", "base_end", "keys", "vals", "unsafe")


def dumps(config: dict, arrays: dict) -> bytes:
    """The compact file: MAGIC, crc32 of the rest, header length, header (JSON), then the arrays
    (little-endian int64)."""
    head = json.dumps({**config, "counts": [len(arrays[k]) for k in _ORDER]}, ensure_ascii=True).encode()
    parts = [len(head).to_bytes(4, "little"), head]
    for k in _ORDER:
        a = array.array("q", arrays[k])
        if sys.byteorder != "little":
            a.byteswap()
        parts.append(a.tobytes())
    body = b"".join(parts)
    return MAGIC + zlib.crc32(body).to_bytes(4, "little") + body


def loads(data: bytes) -> tuple[dict, dict]:
    """(config, arrays) from dumps's bytes; ValueError when they are not whole."""
    if len(data) < 16 or data[:8] != MAGIC:
        raise ValueError("not a compact tokenizer")
    body = memoryview(data)[12:]
    if zlib.crc32(body) != int.from_bytes(data[8:12], "little"):
        raise ValueError("damaged (checksum)")
    n = int.from_bytes(body[:4], "little")
    config = json.loads(bytes(body[4:4 + n]))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError("another format")
    counts = config.pop("counts")
    at = 4 + n
    arrays = {}
    for k, count in zip(_ORDER, counts):
        a = array.array("q")
        a.frombytes(body[at:at + 8 * count])
        if sys.byteorder != "little":
            a.byteswap()
        if len(a) != count:
            raise ValueError("damaged (short)")
        arrays[k] = a
        at += 8 * count
    if at != len(body) or len(arrays["base"]) != 256 or len(arrays["base_end"]) != 256 or \
            len(arrays["keys"]) != len(arrays["vals"]):
        raise ValueError("damaged (sizes)")
    return config, arrays


# -- checking it against tokenizers -----------------------------------------------------------------
_CHECKED = (range(0x40000), range(0xE0000, 0xF0000))   # planes 4-13 are empty, 15-16 private use


def _checked(c: str) -> bool:
    """Whether a character is among those checked against tokenizers when the file is made: those
    Python's Unicode has (not the surrogates), outside planes 4-13 and 15-16."""
    cp = ord(c)
    return (cp < 0x40000 or 0xE0000 <= cp < 0xF0000) and unicodedata.category(c) not in ("Cn", "Cs")


def _checked_chars() -> list[str]:
    cat = unicodedata.category
    return [c for r in _CHECKED for c in map(chr, r) if cat(c) not in ("Cn", "Cs")]


def _culprits(items: list[str], same, sep: str, lo: int = 0, hi: int | None = None, out: set | None = None) -> set:
    """Indices of the items on which same(joined text) fails, found by halving."""
    out = set() if out is None else out
    hi = len(items) if hi is None else hi
    if hi <= lo or same(sep.join(items[lo:hi])):
        return out
    if hi - lo == 1:
        out.add(lo)
        return out
    mid = (lo + hi) // 2
    _culprits(items, same, sep, lo, mid, out)
    _culprits(items, same, sep, mid, hi, out)
    return out


def unicode_disagreements(fast: ClipBpeTokenizer, hf: TextTokenizer) -> set[str]:
    """The characters on which this module's normalizer or pre-tokenizer differs from the
    installed tokenizers' (each character alone and in the contexts where Unicode data matters)."""
    chars = _checked_chars()
    bad: set[str] = set()
    normalizer, pre = hf.tok.normalizer, hf.tok.pre_tokenizer
    if normalizer is not None and fast.steps:
        def same(s):
            return normalizer.normalize_str(s) == fast._normalize(s)

        # each character alone (its decomposition, lower case, whether it is whitespace) ...
        bad.update(chars[i] for i in _culprits(chars, same, "\x00"))
        # ... a combining mark after one of another class (its canonical ordering) ...
        combining = [c for c in chars if unicodedata.combining(c)]
        bad.update(combining[i] for i in _culprits(["a\u0345" + c for c in combining], same, "\x00"))
        # ... and a character's decomposition (whether it composes back)
        decomposed = [c for c in chars if unicodedata.normalize("NFD", c) != c]
        items = [unicodedata.normalize("NFD", c) for c in decomposed]
        for i in _culprits(items, same, "\x00"):
            bad.add(decomposed[i])
            bad.update(c for c in items[i] if c >= "\x80")

    table = {i: ord(c) for i, c in enumerate(bytes_to_unicode())}

    def words(s):
        return [w.encode("utf-8", "surrogatepass").decode("latin-1").translate(table) for w in fast._words_of(s)]

    def same_words(s):
        return [p for p, _ in pre.pre_tokenize_str(s)] == words(s)

    groups: dict[str, list[str]] = {"L": [], "N": [], "O": [], "W": []}
    for c in chars:
        cls = "W" if c in WHITE_SPACE else unicodedata.category(c)[0]
        groups[cls if cls in "LNW" else "O"].append(c)
    try:
        for cls, sep in (("L", ""), ("O", ""), ("W", "a")):   # a run of one class is one word (or none)
            items = groups[cls]
            bad.update(items[i] for i in _culprits(items, same_words, sep))
        items = ["a" + c + "!" for c in groups["N"]]   # a digit is a word alone: its neighbours tell what it is
        bad.update(groups["N"][i] for i in _culprits(items, same_words, ""))
    finally:
        _CLASSES.clear()    # (filled for every character: not kept for the few a query has)
    return bad


def probe_texts() -> list[str]:
    """Whole texts both tokenizers must agree on."""
    import random

    fixed = [
        "", " ", "a", "a photo of a cat", "A PHOTO OF A CAT", "a red car on a beach", "  spaced   out  ",
        "don't", "it's", "we're", "they've", "I'm", "you'll", "he'd", "DON'T", "It'S", "'s", "x's'", "''s",
        "rock'n'roll", "hello, world! (test) [x] {y} <z> #tag @user $5 100% a&b a+b=c ~/path",
        "2019", "3.14159", "1,000,000", "12:30pm", "v1.2.3", "²³ ½ ¼ Ⅷ ⅻ ① ⑩ ٣ ໓ ༣ 𝟙",
        "café", "cafe\u0301", "Ångström", "A\u030angstro\u0308m", "naïve façade", "ǅ ǈ ǋ ﬁ ﬃ ẞ ß",
        "İstanbul", "DİYARBAKIR ıi", "ΟΔΟΣ ΑΣ Σ σς", "Straße", "ŉ", "ΐ", "東京の夜景", "北京 上海", "한국어 텍스트",
        "\u1100\u1161\u11a8", "ไทย ภาษา", "עברית שלום", "العربية مرحبا",
        "हिन्दी", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇫🇷", "a😀b", "❤️", "\u200d", "\u200b zero width",
        "tab\there", "new\nline", "cr\r\nlf", "\x00\x01\x1c\x1f\x7f", "\x85next", "nbsp\xa0here", "ideo\u3000space",
        "<|endoftext|>", "<|startoftext|>a<|endoftext|>", "a<|endoftext|>b", "<|ENDOFTEXT|>", "<|endoftext|",
        "<|endoftext|><|endoftext|>", "x<|startoftext|>", "< |endoftext| >",
        "word " * 200, "a" * 300, "ab" * 500, "!" * 100, "1" * 100, "東" * 100, "é" * 90, "😀" * 40,
        "the quick brown fox jumps over the lazy dog " * 20, "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    ]
    rng = random.Random(FORMAT)
    blocks = [(0x20, 0x7f), (0xa0, 0x250), (0x300, 0x370), (0x370, 0x400), (0x400, 0x530), (0x590, 0x700),
              (0x900, 0xe00), (0x1e00, 0x2000), (0x2000, 0x2070), (0x2070, 0x2200), (0x2460, 0x2500),
              (0x3000, 0x3100), (0x4e00, 0x4f00), (0xac00, 0xad00), (0xfb00, 0xfb50), (0xff00, 0xfff0),
              (0x1d400, 0x1d800), (0x1f300, 0x1f700), (0x1f900, 0x1fa00)]
    words = ["photo", "dog", "beach", "night", "2019", "don't", "it's", "café", "東京", "😀", "’s", "Ⅻ"]
    randomized = []
    for _ in range(400):
        out = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.35:
                out.append(rng.choice(words))
            elif r < 0.5:
                out.append(rng.choice([" ", "  ", "\t", "\n", "'", "-", ".", "\u0301", "\u200d", "\ufe0f"]))
            else:
                lo, hi = rng.choice(blocks)
                out.append("".join(chr(rng.randrange(lo, hi)) for _ in range(rng.randint(1, 6))))
            if rng.random() < 0.6:
                out.append(" ")
        text = "".join(out)
        randomized.append(unicodedata.normalize("NFD", text) if rng.random() < 0.2 else text.upper()
                          if rng.random() < 0.2 else text)
    return fixed + randomized


def verify(fast: ClipBpeTokenizer, hf: TextTokenizer, texts: list[str] | None = None) -> str | None:
    """None when both give the same ids and mask on the probe texts, else what differed."""
    texts = probe_texts() if texts is None else texts
    a_ids, a_mask = fast._encode(texts)
    b_ids, b_mask = hf._encode(texts)
    for text, x, y, mx, my in zip(texts, a_ids, b_ids, a_mask, b_mask):
        if x != y or mx != my:
            return f"differs on {text[:40]!r}"
    return None


# -- the cache entry ------------------------------------------------------------------------------------
def _tokenizers_build() -> list:
    """What identifies the installed tokenizers library, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("tokenizers")
    if spec is None or not spec.submodule_search_locations:
        return []
    where = list(spec.submodule_search_locations)[0]
    out = []
    for name in sorted(os.listdir(where)):
        if name.endswith((".so", ".pyd", ".dylib")):
            st = os.stat(os.path.join(where, name))
            out.append([name, st.st_size, st.st_mtime_ns])
    return out


def compact(tokenizer_json: str | Path, hf: TextTokenizer, *, context_length: int,
            pad_token: str | None) -> tuple[bytes, dict]:
    """(the compact file of a tokenizer.json, what was checked), checked against `hf` (tokenizers
    loaded from that file, with that context length and pad token); NotClip when this module
    cannot stand in for it."""
    if type(hf.tok.model).__name__ != "BPE":   # (SigLIP: no need to read its tokenizer.json)
        raise NotClip(f"model {type(hf.tok.model).__name__}")
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    config, arrays = recognize(spec, pad_token)
    del spec
    unsafe = unicode_disagreements(ClipBpeTokenizer(config, arrays, context_length=context_length), hf)
    arrays["unsafe"] = array.array("q", sorted(map(ord, unsafe)))
    payload = dumps(config, arrays)
    fast = from_bytes(payload, tokenizer_json=tokenizer_json, context_length=context_length, pad_token=pad_token)
    fast._hf = hf      # (for the probes it leaves to tokenizers)
    texts = probe_texts()
    differs = verify(fast, hf, texts)
    if differs:
        raise NotClip(differs)
    return payload, {"unsafe_chars": len(unsafe), "probes": len(texts), "probes_emulated": len(texts) - fast.fallbacks}


def from_bytes(payload: bytes, *, tokenizer_json: str | Path | None, context_length: int, pad_token: str | None,
               clean: str | None = None) -> ClipBpeTokenizer:
    """The tokenizer of a compact file (ValueError when the file is not whole)."""
    return ClipBpeTokenizer(*loads(payload), context_length=context_length, tokenizer_json=tokenizer_json,
                            pad_token=pad_token, clean=clean)


class Plan:
    """How to make the entry once `tokenizers` has loaded the model's tokenizer."""

    def __init__(self, cache, key: str, tokenizer_json: Path, context_length: int, pad_token: str | None):
        self.cache, self.key, self.tokenizer_json = cache, key, tokenizer_json
        self.context_length, self.pad_token = context_length, pad_token

    def build(self, hf: TextTokenizer) -> bool | None:
        """Make the entry (the verdict in its meta.json); the verdict, None when nothing could be written."""
        if not self.cache.writable():
            return None
        info = {"source": str(self.tokenizer_json), "format": FORMAT}
        try:
            payload, checks = compact(self.tokenizer_json, hf, context_length=self.context_length,
                                      pad_token=self.pad_token)
            info.update({VERDICT: True, **checks})
        except OSError:   # tokenizer.json unreadable now: decided on a later load
            return None
        except Exception as e:   # NotClip, or a tokenizer.json this module does not understand
            payload = MAGIC    # nothing to load: the verdict is what the entry is for
            reason = str(e) if isinstance(e, NotClip) else f"{type(e).__name__}: {e}"
            info.update({VERDICT: False, "reason": reason[:200]})

        def make(out: Path):
            with open(out, "wb") as f:
                f.write(payload)

        try:
            self.cache.build(NAME, self.key, make, info=info, main=FILE)
        except Exception:
            return None
        return info[VERDICT]


def entry_key(tokenizer_json: Path, context_length: int, pad_token: str | None) -> str:
    from .cache import cache_key

    return cache_key(tokenizer_json, kind="clip-bpe", format=FORMAT, context_length=context_length,
                     pad_token=pad_token, tokenizers=_tokenizers_build(), unicode=unicodedata.unidata_version)


def cached_tokenizer(cache, folder: str | Path, *, context_length: int | None = None, clean: str | None = None):
    """(the fast tokenizer, None) from a whole entry whose verdict is true; (None, a Plan to make the
    entry) when there is none yet (or it was damaged); (None, None) when the model keeps
    `tokenizers` (its verdict, or no key can be made)."""
    folder = Path(folder)
    tokenizer_json = folder / "tokenizer.json"
    try:
        context_length, pad_token = tokenizer_settings(folder, context_length)
        key = entry_key(tokenizer_json, context_length, pad_token)
    except (OSError, ValueError):
        return None, None
    plan = Plan(cache, key, tokenizer_json, context_length, pad_token)
    found = cache.lookup(NAME, key, FILE)
    if found is None:
        return None, plan
    verdict = cache.info(NAME, key).get(VERDICT)
    if verdict is False:
        return None, None
    try:
        if verdict is not True:
            raise ValueError("no verdict")
        return from_bytes(Path(found).read_bytes(), tokenizer_json=tokenizer_json, context_length=context_length,
                          pad_token=pad_token, clean=clean), None
    except Exception:
        cache.discard(NAME, key)        # damaged: made again (or, read-only, `tokenizers` is used)
        return None, plan
