"""The pure-Python CLIP tokenizer (embed/clip_tokenizer.py) against `tokenizers` itself: the same ids
and masks on a large generated corpus, for the full CLIP vocabulary and the tiny fixture's; its
compact file kept in the library, used by the next process without importing `tokenizers`, made
again (or not used) when damaged; SigLIP and anything not CLIP's byte-level BPE keep `tokenizers`."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from embed_fixtures import FIXTURES, model_dir
from phototrove.embed import clip_tokenizer as ct
from phototrove.embed import load_embedder
from phototrove.embed.cache import ModelCache
from phototrove.embed.tokenize import TextTokenizer

sys.path.insert(0, str(FIXTURES))
import clip_bpe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = model_dir("onnx", "clip-tiny")
SIGLIP = model_dir("onnx", "siglip-tiny")

# Unicode blocks the corpus draws from (letters, marks, numbers, symbols, scripts of every direction)
BLOCKS = [(0x20, 0x7f), (0x00, 0x20), (0xa0, 0x100), (0x100, 0x250), (0x250, 0x2b0), (0x2b0, 0x370),
          (0x300, 0x370), (0x370, 0x400), (0x400, 0x530), (0x530, 0x590), (0x590, 0x600), (0x600, 0x700),
          (0x700, 0x750), (0x900, 0x980), (0x980, 0xa00), (0xe00, 0xe80), (0x10a0, 0x1100), (0x1100, 0x1200),
          (0x13a0, 0x1400), (0x1e00, 0x1f00), (0x1f00, 0x2000), (0x2000, 0x2070), (0x2070, 0x20d0),
          (0x20a0, 0x20d0), (0x2100, 0x2150), (0x2150, 0x2190), (0x2190, 0x2300), (0x2460, 0x2500),
          (0x2500, 0x2600), (0x2600, 0x2800), (0x3000, 0x3040), (0x3040, 0x3100), (0x4e00, 0x9fff),
          (0xac00, 0xd7a4), (0xe000, 0xe100), (0xfb00, 0xfb50), (0xfe00, 0xfe10), (0xfe70, 0xff00),
          (0xff00, 0xfff0), (0x10000, 0x10100), (0x1d400, 0x1d800), (0x1f000, 0x1f100), (0x1f300, 0x1f650),
          (0x1f680, 0x1f700), (0x1f900, 0x1fa00), (0x20000, 0x20100), (0xe0000, 0xe0080), (0xe0100, 0xe01f0)]
# marks of recent Unicode versions, which the Rust libraries under tokenizers may not know yet
RECENT = [(0x7f0, 0x800), (0x8a0, 0x900), (0xc00, 0xc80), (0x1ab0, 0x1b00), (0x1dc0, 0x1e00), (0x10d20, 0x10d40),
          (0x10f30, 0x10fb0), (0x11900, 0x11960), (0x1e130, 0x1e140), (0x1e2c0, 0x1e300)]
WORDS = ["photo", "Dog", "BEACH", "night", "sunset", "don't", "DON'T", "it's", "It'S", "we're", "they've",
         "I'm", "you'll", "he'd", "rock'n'roll", "'s", "''", "2019", "3.5", "1,000", "²", "½", "Ⅷ", "ⅻ", "①",
         "İstanbul", "DİYARBAKIR", "ı", "ΟΔΟΣ", "ΑΣ", "Σ", "σς", "ὈΔΥΣΣΕΎΣ", "Straße", "ẞ", "ǅ", "ﬁ", "ﬃ",
         "café", "cafe\u0301", "A\u030angstro\u0308m", "ñ", "n\u0303", "東京", "北京", "한국", "\u1100\u1161\u11a8",
         "ไทย", "עברית", "العربية", "हिन्दी", "😀", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "❤️", "\u200d",
         "\u200b", "\u2028", "\xa0", "\u3000", "\x85", "\t", "\n", "\r\n", "\x00", "\x1c", "\x7f", "<|endoftext|>",
         "<|startoftext|>", "<|ENDOFTEXT|>", "<|endoftext|", "x<|endoftext|>y", "!!!", "...", "(x)", "#tag",
         "@me", "$5", "100%", "a&b", "~/", "_", "__init__", "𝐀𝐁", "Ⓐ", "ａｂｃ", "ｶﾀｶﾅ", "\u0345", "\u0915\u093c"]
RECENT_WORDS = ["a\u07fd\u0301", "e\u0c3c\u0301", "o\u1dfa\u0308", "\U00011935\U00011930"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "", "-", "'", "\u0301", "\ufe0f", "\u200d"]


def char(rng: random.Random, lo: int, hi: int) -> str:
    """A character of the block, mostly one Unicode has (the others go to tokenizers: see below)."""
    for _ in range(20):
        c = chr(rng.randrange(lo, hi))
        if unicodedata.category(c) != "Cn" or rng.random() < 0.01:
            return c
    return c


def corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["", " ", "a photo of a cat", "word " * 400, "x" * 2000, "é" * 2000, "東" * 2000, "😀" * 700,
             "ab1" * 700, "a'" * 1000, "<|endoftext|>" * 100, " ".join(WORDS), "".join(WORDS)]
    for _ in range(n):
        out = []
        for _ in range(rng.choice([1, 2, 3, 5, 8, 13, 40])):
            r = rng.random()
            if r < 0.4:
                out.append(rng.choice(RECENT_WORDS if rng.random() < 0.02 else WORDS))
            else:
                lo, hi = rng.choice(RECENT if rng.random() < 0.03 else BLOCKS)
                out.append("".join(char(rng, lo, hi) for _ in range(rng.randint(1, 8))))
            out.append(rng.choice(SPACES))
        text = "".join(out)
        r = rng.random()
        if r < 0.15:
            text = unicodedata.normalize("NFD", text)
        elif r < 0.25:
            text = text.upper()
        elif r < 0.3:
            text = text * (2000 // max(len(text), 1) + 1)   # past the context
        texts.append(text)
    return texts


def fast_for(folder: Path, hf: TextTokenizer | None = None):
    hf = hf or TextTokenizer.from_dir(folder)
    payload, checks = ct.compact(folder / "tokenizer.json", hf, context_length=hf.context_length,
                                 pad_token="<|endoftext|>")
    fast = ct.from_bytes(payload, tokenizer_json=folder / "tokenizer.json", context_length=hf.context_length,
                         pad_token="<|endoftext|>")
    return fast, hf, checks


def assert_same(fast, hf, texts, min_emulated=0.8):
    before = fast.fallbacks
    a_ids, a_mask = fast.encode(texts)
    b_ids, b_mask = hf.encode(texts)
    assert a_ids.dtype == b_ids.dtype == np.int64 and a_ids.shape == b_ids.shape == (len(texts), hf.context_length)
    bad = [t for t, x, y, mx, my in zip(texts, a_ids, b_ids, a_mask, b_mask)
           if not ((x == y).all() and (mx == my).all())]
    assert bad == [], f"{len(bad)} texts differ, e.g. {bad[0][:80]!r}"
    emulated = 1 - (fast.fallbacks - before) / len(texts)
    assert emulated >= min_emulated, emulated     # the pure-Python path did the work, not the fallback
    return emulated


@pytest.fixture(scope="module")
def full_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-full")
    clip_bpe.write_tokenizer_files(folder)
    return fast_for(folder)


def edited(tmp_path: Path, source: Path, edit) -> Path:
    """A copy of a tokenizer folder whose tokenizer.json is changed by edit(spec)."""
    folder = tmp_path / "edited"
    shutil.copytree(source, folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    edit(spec)
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    return folder


# -- parity ------------------------------------------------------------------------------------------
def test_full_clip_matches_tokenizers_on_a_large_corpus(full_clip):
    fast, hf, checks = full_clip
    assert checks["probes_emulated"] > 0.6 * checks["probes"]
    assert not any(c.isascii() for c in fast.unsafe)      # no ASCII text is ever left to tokenizers
    assert_same(fast, hf, corpus(4000, seed=1))


def test_full_clip_matches_on_known_ids_and_truncation(full_clip):
    fast, hf, _ = full_clip
    before = fast.fallbacks
    ids, mask = fast.encode(["a photo of a cat", "A PHOTO OF A CAT", "word " * 200, ""])
    assert ids[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407] and mask[0].sum() == 7
    assert (ids[0] == ids[1]).all()
    assert ids[2, 0] == 49406 and ids[2, -1] == 49407 and (ids[2, 1:-1] != 49407).all() and mask[2].all()
    assert ids[3, :2].tolist() == [49406, 49407] and mask[3].sum() == 2 and (ids[3, 2:] == 49407).all()
    golden = json.loads((FIXTURES / "clip_tokens.json").read_text())   # transformers' CLIPTokenizer
    assert fast(golden["texts"]).tolist() == golden["ids"]
    assert fast.fallbacks == before


def test_the_tiny_fixture_matches_tokenizers(tmp_path):
    fast, hf, _ = fast_for(TINY / "textual")
    assert_same(fast, hf, corpus(3000, seed=2))


@pytest.mark.parametrize("variant", ["use_regex false (HF/immich)", "template post-processor",
                                     "merges as pairs", "no special tokens in the pattern"])
def test_tokenizer_json_variants_match_tokenizers(tmp_path, variant):
    def edit(spec):
        if variant.startswith("use_regex"):
            spec["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = False
        elif variant.startswith("template"):
            bos, eos = spec["post_processor"]["cls"], spec["post_processor"]["sep"]
            spec["post_processor"] = {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": eos[0], "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in (bos, eos)}}
        elif variant.startswith("merges"):
            spec["model"]["merges"] = [m.split(" ") if isinstance(m, str) else m for m in spec["model"]["merges"]]
        else:
            split = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]
            split["Regex"] = split["Regex"].replace(r"<\|startoftext\|>|<\|endoftext\|>|", "")
    folder = edited(tmp_path, TINY / "textual", edit)
    fast, hf, _ = fast_for(folder)
    assert_same(fast, hf, corpus(800, seed=3))


def test_characters_tokenizers_sees_differently_go_to_it(full_clip):
    """Where this tokenizers' Unicode data is older than Python's (here: combining marks its NFC does
    not order), those characters are found when the file is made, and their texts handed over."""
    fast, hf, checks = full_clip
    assert checks["unsafe_chars"] == len(fast.unsafe)
    texts = [f"a{c}\u0301 test" for c in sorted(fast.unsafe)] + ["a\U000f0001", "\U000e0fff x"]
    before = fast.fallbacks
    assert_same(fast, hf, texts, min_emulated=0)
    assert fast.fallbacks - before == len(texts)
    with pytest.raises(Exception) as hf_error:      # a lone surrogate: tokenizers' own error
        hf.encode(["x\ud800"])
    with pytest.raises(type(hf_error.value)):
        fast.encode(["x\ud800"])


def test_the_canonicalize_cleaning_stays(tmp_path):
    fast, hf, _ = fast_for(TINY / "textual")
    fast.clean = hf.clean = "canonicalize"
    assert (fast(["A dog, on the_beach!!"]) == fast(["a dog on the beach"])).all()
    assert_same(fast, hf, corpus(300, seed=4))


# -- refusing ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("change", ["NFKC", "no end-of-word suffix", "prefix space", "another split pattern",
                                    "byte fallback", "normalized added token", "lowercase twice"])
def test_what_is_not_clips_tokenizer_is_refused(change):
    spec = json.loads((TINY / "textual" / "tokenizer.json").read_text())
    ct.recognize(spec, "<|endoftext|>")     # as it is: recognized
    if change == "NFKC":
        spec["normalizer"]["normalizers"][0] = {"type": "NFKC"}
    elif change == "no end-of-word suffix":
        spec["model"]["end_of_word_suffix"] = None
    elif change == "prefix space":
        spec["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = True
    elif change == "another split pattern":
        spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] += r"|\p{M}+"
    elif change == "byte fallback":
        spec["model"]["byte_fallback"] = True
    elif change == "normalized added token":
        spec["added_tokens"][0]["normalized"] = True
    else:
        spec["normalizer"]["normalizers"].append({"type": "Lowercase"})
    with pytest.raises(ct.NotClip):
        ct.recognize(spec, "<|endoftext|>")


def test_a_difference_on_the_probes_keeps_tokenizers(tmp_path):
    """The probes catch an emulation that is wrong (here: told to skip NFC) and say where."""
    fast, hf, _ = fast_for(TINY / "textual")
    assert ct.verify(fast, hf) is None
    fast.steps = tuple(s for s in fast.steps if s != "nfc")
    assert "differs on" in ct.verify(fast, hf)


# -- the cache entry ---------------------------------------------------------------------------------
def entry_dirs(cache_dir: Path, model: str = "clip-tiny") -> list[Path]:
    folder = cache_dir / model
    return sorted(p for p in folder.iterdir() if p.name.startswith(ct.NAME + "-")) if folder.exists() else []


TEXTS = ["a photo of a cat", "rocket", "", "東京の夜景 2019", "don't stop", "word " * 100]


def hf_ids(folder: Path, texts=TEXTS):
    return TextTokenizer.from_dir(folder / "textual").encode(texts)[0].tolist()


CHILD = """
import json, sys
from phototrove.embed import load_embedder
e = load_embedder(sys.argv[1], towers="text", cache_dir=sys.argv[2])
ids = e._tokenizer.encode(json.loads(sys.argv[3]))[0].tolist()
vec = e.encode_texts(["a photo of a cat"]).tolist()
print(json.dumps({"tokenizers": "tokenizers" in sys.modules, "kind": type(e._tokenizer).__name__,
                  "ids": ids, "vec": vec}))
"""


def child(model: Path, cache_dir: Path, texts=TEXTS) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", CHILD, str(model), str(cache_dir), json.dumps(texts)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_the_entry_is_made_once_and_the_next_process_does_not_import_tokenizers(tmp_path):
    cache = tmp_path / "models"
    first = child(TINY, cache)                     # makes the entry (with tokenizers loaded)
    assert first["tokenizers"] and first["kind"] == "TextTokenizer"
    (entry,) = entry_dirs(cache)
    meta = json.loads((entry / "meta.json").read_text())
    assert meta[ct.VERDICT] is True and meta["probes_emulated"] > 0
    stamp = {p.name: p.stat().st_mtime_ns for p in entry.iterdir()}
    second = child(TINY, cache)
    assert not second["tokenizers"] and second["kind"] == "ClipBpeTokenizer"
    assert second["ids"] == first["ids"] == hf_ids(TINY)
    assert np.abs(np.array(second["vec"]) - np.array(first["vec"])).max() < 1e-6
    assert entry_dirs(cache) == [entry] and {p.name: p.stat().st_mtime_ns for p in entry.iterdir()} == stamp


@pytest.mark.parametrize("damage", ["truncated", "garbage of the same size", "one bit flipped", "empty",
                                    "verdict missing"])
def test_a_damaged_compact_file_is_made_again_never_used(tmp_path, damage):
    cache = tmp_path / "models"
    load_embedder(str(TINY), towers="text", cache_dir=cache)
    (entry,) = entry_dirs(cache)
    path = entry / "tokenizer.bpe"
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "garbage of the same size":
        path.write_bytes(bytes(random.Random(0).randrange(256) for _ in good))
    elif damage == "one bit flipped":
        path.write_bytes(good[:5000] + bytes([good[5000] ^ 1]) + good[5001:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        meta = json.loads((entry / "meta.json").read_text())
        del meta[ct.VERDICT]
        (entry / "meta.json").write_text(json.dumps(meta))
    e = load_embedder(str(TINY), towers="text", cache_dir=cache)       # notices, uses tokenizers, makes it again
    assert type(e._tokenizer).__name__ == "TextTokenizer"
    assert e._tokenizer.encode(TEXTS)[0].tolist() == hf_ids(TINY)
    (again,) = entry_dirs(cache)
    assert again.joinpath("tokenizer.bpe").read_bytes() == good
    e = load_embedder(str(TINY), towers="text", cache_dir=cache)
    assert type(e._tokenizer).__name__ == "ClipBpeTokenizer"
    assert e._tokenizer.encode(TEXTS)[0].tolist() == hf_ids(TINY)


def test_a_damaged_file_in_a_library_that_cannot_be_written_is_not_used(tmp_path, monkeypatch):
    cache = tmp_path / "models"
    load_embedder(str(TINY), towers="text", cache_dir=cache)
    (entry,) = entry_dirs(cache)
    path = entry / "tokenizer.bpe"
    path.write_bytes(bytes(path.stat().st_size))
    monkeypatch.setattr(ModelCache, "writable", lambda self: False)
    monkeypatch.setattr(ModelCache, "discard", lambda self, name, key: None)   # as on a read-only disk
    e = load_embedder(str(TINY), towers="text", cache_dir=cache)
    assert type(e._tokenizer).__name__ == "TextTokenizer"
    assert e._tokenizer.encode(TEXTS)[0].tolist() == hf_ids(TINY)
    assert path.read_bytes() == bytes(path.stat().st_size)       # left as it was


def test_without_a_cache_tokenizers_is_used(tmp_path):
    e = load_embedder(str(TINY), towers="text")
    assert type(e._tokenizer).__name__ == "TextTokenizer"


def test_siglip_keeps_tokenizers(tmp_path):
    cache = tmp_path / "models"
    texts = ["a dog", "A Dog, on the beach!", "東京", ""]
    want = TextTokenizer.from_dir(SIGLIP / "textual").encode(texts)[0].tolist()
    for _ in range(2):
        e = load_embedder(str(SIGLIP), towers="text", cache_dir=cache)
        assert type(e._tokenizer).__name__ == "TextTokenizer"
        assert e._tokenizer.encode(texts)[0].tolist() == want
    (entry,) = entry_dirs(cache, "siglip-tiny")
    meta = json.loads((entry / "meta.json").read_text())
    assert meta[ct.VERDICT] is False and "Unigram" in meta["reason"]
    out = child(SIGLIP, cache, texts)
    assert out["tokenizers"] and out["ids"] == want


def test_a_clip_like_tokenizer_this_module_refuses_keeps_tokenizers(tmp_path):
    """A byte-level BPE whose vocabulary lacks a byte's token (tokenizers would give <unk>): refused,
    the verdict kept, and tokenizers used from then on."""
    model = tmp_path / "model"
    shutil.copytree(TINY, model)

    def drop(spec):
        del spec["model"]["vocab"]["Ā</w>"]
    edited(tmp_path, TINY / "textual", drop)
    shutil.copy(tmp_path / "edited" / "tokenizer.json", model / "textual" / "tokenizer.json")
    cache = tmp_path / "models"
    want = TextTokenizer.from_dir(model / "textual").encode(TEXTS + ["\x00"])[0].tolist()
    for _ in range(2):
        e = load_embedder(str(model), towers="text", cache_dir=cache)
        assert type(e._tokenizer).__name__ == "TextTokenizer"
        assert e._tokenizer.encode(TEXTS + ["\x00"])[0].tolist() == want
    (entry,) = entry_dirs(cache, "model")
    meta = json.loads((entry / "meta.json").read_text())
    assert meta[ct.VERDICT] is False and "byte" in meta["reason"]


def test_a_changed_tokenizer_json_makes_a_new_entry(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(TINY, model)
    cache = tmp_path / "models"
    load_embedder(str(model), towers="text", cache_dir=cache)
    (old,) = entry_dirs(cache, "model")
    path = model / "textual" / "tokenizer.json"
    path.write_text(path.read_text() + "\n")
    e = load_embedder(str(model), towers="text", cache_dir=cache)
    assert type(e._tokenizer).__name__ == "TextTokenizer"     # not the old entry's
    (new,) = entry_dirs(cache, "model")
    assert new != old
    e = load_embedder(str(model), towers="text", cache_dir=cache)
    assert type(e._tokenizer).__name__ == "ClipBpeTokenizer"
