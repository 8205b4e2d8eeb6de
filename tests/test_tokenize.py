"""Tokenizer parity with transformers' CLIP tokenizer (same vocab/merges) and the fixture tokenizers."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from embed_fixtures import FIXTURES, META, NAMES, REF, model_dir
from phototrove.embed.tokenize import TextTokenizer

sys.path.insert(0, str(FIXTURES))
import clip_bpe  # noqa: E402


@pytest.fixture(scope="module")
def clip_full(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-tokenizer")
    clip_bpe.write_tokenizer_files(folder)
    return TextTokenizer.from_dir(folder)


def test_full_clip_vocab_matches_transformers(clip_full):
    golden = json.loads((FIXTURES / "clip_tokens.json").read_text())
    ids = clip_full(golden["texts"])
    assert ids.shape == (len(golden["texts"]), 77)
    for text, got, want in zip(golden["texts"], ids.tolist(), golden["ids"]):
        assert got == want, text


def test_clip_known_ids_and_truncation(clip_full):
    ids = clip_full(["a photo of a cat", "A PHOTO OF A CAT", "word " * 200])
    assert ids[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert (ids[0] == ids[1]).all()  # lower-cased
    assert ids[2, 0] == 49406 and ids[2, -1] == 49407 and (ids[2, 1:-1] != 49407).all()  # end token kept


@pytest.mark.parametrize("layout", ["hf", "onnx"])
@pytest.mark.parametrize("name", NAMES)
def test_fixture_tokenizers_match_reference(layout, name):
    folder = model_dir(layout, name) if layout == "hf" else model_dir(layout, name) / "textual"
    ctx = META["models"][name]["context_length"]
    tok = TextTokenizer.from_dir(folder, context_length=ctx)
    ids, mask = tok.encode(META["texts"])
    assert (ids == REF[f"{name}.ids"]).all()
    assert mask.shape == ids.shape and mask[:, 0].all()


def test_siglip_pads_to_full_length():
    tok = TextTokenizer.from_dir(model_dir("hf", "siglip-tiny"))
    ids = tok(["a dog", "a photo of a dog on the beach"])
    assert ids.shape == (2, 64) and tok.pad_id == 0
    assert (ids[0] == 0).sum() > (ids[1] == 0).sum() > 0
    assert np.isin(1, ids[0])  # </s> appended


def test_canonicalize_cleaning_from_the_export_config(tmp_path):
    """SigLIP exports ask for open_clip's "canonicalize" cleaning in config.json's text_cfg."""
    import shutil

    from phototrove.embed.onnx_backend import OnnxEmbedder

    src = model_dir("onnx", "siglip-tiny")
    shutil.copytree(src, tmp_path / "m")
    cfg = json.loads((src / "config.json").read_text())
    cfg["text_cfg"]["tokenizer_kwargs"] = {"clean": "canonicalize"}
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    plain = OnnxEmbedder(src, towers="text")
    clean = OnnxEmbedder(tmp_path / "m", towers="text")
    assert (clean._tokenizer(["A dog, on the_beach!!"]) == plain._tokenizer(["a dog on the beach"])).all()
    assert not (plain._tokenizer(["A dog, on the_beach!!"]) == plain._tokenizer(["a dog on the beach"])).all()
