"""Text -> token ids with the `tokenizers` library, configured from the model's own files.

CLIP: byte-level BPE, lower-cased by the tokenizer.json's normalizer, <start> ... <end>, truncated
to the context length (77) keeping the end token, padded (the text tower pools at the first end
token). SigLIP: sentencepiece-style tokenizer, padded to the full context length (64): the model was
trained on max-length padding and pools the last position, so padding is part of the input.

A text query of a model whose tokenizer is CLIP's is tokenized by clip_tokenizer.py instead, with the
same ids, from a compact file in the library: loading this module's tokenizer.json takes ~0.3 s.
"""
from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Sequence


_PUNCTUATION = str.maketrans("", "", string.punctuation)


def canonicalize(text: str) -> str:
    """open_clip's "canonicalize" cleaning (used by SigLIP exports): no punctuation, lower case,
    single spaces."""
    text = text.replace("_", " ").translate(_PUNCTUATION).lower()
    return " ".join(text.split())


def tokenizer_settings(folder: str | Path, context_length: int | None = None) -> tuple[int, str | None]:
    """(context length, pad token) of a tokenizer folder, from its tokenizer_config.json /
    special_tokens_map.json: `context_length` when given, else the config's model_max_length (77
    when there is none, or transformers' "unlimited" sentinel)."""
    folder = Path(folder)
    cfg: dict = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        p = folder / name
        if p.exists():
            cfg.update(json.loads(p.read_text()))
    pad = cfg.get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    if context_length is None:
        context_length = int(cfg.get("model_max_length") or 77)
        if context_length > 100_000:  # transformers' "unlimited" sentinel
            context_length = 77
    return int(context_length), pad


class TextTokenizer:
    def __init__(self, tokenizer_json: str | Path, *, context_length: int, pad_token: str | None = None,
                 pad_id: int | None = None, clean: str | None = None):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_json))
        self.context_length = context_length
        self.clean = clean
        if pad_id is None:
            pad_id = self.tok.token_to_id(pad_token) if pad_token else None
            if pad_id is None:
                pad_id = 0
        self.pad_id = pad_id
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=context_length)
        self.tok.enable_padding(length=context_length, pad_id=pad_id, pad_token=pad_token or "<pad>")

    @classmethod
    def from_dir(cls, folder: str | Path, *, context_length: int | None = None,
                 clean: str | None = None) -> "TextTokenizer":
        """A folder with tokenizer.json and (optionally) tokenizer_config.json / special_tokens_map.json."""
        folder = Path(folder)
        context_length, pad = tokenizer_settings(folder, context_length)
        # lower-casing, if any, is the tokenizer.json normalizer's job (as in transformers' fast tokenizers)
        return cls(folder / "tokenizer.json", context_length=context_length, pad_token=pad, clean=clean)

    def encode(self, texts: Sequence[str]):
        """(ids, attention_mask), both (n, context_length) int64."""
        import numpy as np

        if isinstance(texts, str):
            texts = [texts]
        if self.clean == "canonicalize":
            texts = [canonicalize(t) for t in texts]
        ids, mask = self._encode(list(texts))
        shape = (len(texts), self.context_length)
        return (np.asarray(ids, dtype=np.int64).reshape(shape), np.asarray(mask, dtype=np.int64).reshape(shape))

    def _encode(self, texts: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        """The ids and masks of texts already cleaned, as lists."""
        encs = self.tok.encode_batch(texts)
        return [e.ids for e in encs], [e.attention_mask for e in encs]

    def __call__(self, texts: Sequence[str]):
        """(n, context_length) int64 token ids."""
        return self.encode(texts)[0]
