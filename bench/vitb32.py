"""A random-weight CLIP ViT-B/32 with the real shapes, in immich's ONNX layout, built without torch.

    build_vitb32(out_dir, towers=("visual", "textual")) -> Path

Run as a script, it builds the image tower and measures `--precision int8` against float32 on it:

    python bench/vitb32.py [OUT_DIR] [--batch 16] [--rounds 5] [--build-only]

JSON lines: `int8_quantize` (the one-time quantization, into OUT_DIR/models as a library keeps it),
`int8_speed` (model-only images/s of encode_pixels, fp32 and int8 in the same run on the same batch,
interleaved round by round; `ratio_int8_over_fp32` is the median of each round's int8/fp32,
`limit_at_least` the target), `int8_cosine` (fp32 vs int8 embeddings of the photos in fixtures/photos: min and
mean), `int8_profile` (each graph's kernel time by op type) and `cpu` (the flags that decide
onnxruntime's int8 kernels).

The graphs are written op by op with `onnx.helper` and numpy weights: the same computation as
OpenAI's ViT-B/32 (12-layer 768-wide vision transformer on 7x7 patches of 32 px, 12-layer 512-wide
causal text transformer over 77 tokens, quick-GELU, 512-d projections), so timing it times the real
model. The text tower gets CLIP's real tokenizer (fixtures/clip_bpe.py). Benchmarks only: the
embeddings mean nothing.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
VISION = dict(width=768, layers=12, heads=12, patch=32, image=224)
TEXT = dict(width=512, layers=12, heads=8, context=77, vocab=49408)
EMBED_DIM = 512


class _Graph:
    """Collects nodes and initializers; names are generated."""

    def __init__(self, seed: int):
        self.nodes, self.inits, self.n = [], [], 0
        self.rng = np.random.default_rng(seed)

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, value, hint="c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, *shape, scale=0.02) -> str:
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), "w")

    def op(self, op_type: str, *inputs, **attrs) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def layer_norm(self, x, width):
        return self.op("LayerNormalization", x, self.const(np.ones(width, np.float32)),
                       self.const(np.zeros(width, np.float32)), axis=-1, epsilon=1e-5)

    def linear(self, x, n_in, n_out, bias=True):
        y = self.op("MatMul", x, self.weight(n_in, n_out))
        return self.op("Add", y, self.const(np.zeros(n_out, np.float32))) if bias else y

    def block(self, x, width, heads, mask=None):
        dh = width // heads
        h = self.layer_norm(x, width)

        def split(t):  # (n, t, d) -> (n, heads, t, dh)
            return self.op("Transpose", self.op("Reshape", t, self.const(np.array([0, 0, heads, dh], np.int64))),
                           perm=[0, 2, 1, 3])

        q = split(self.op("Mul", self.linear(h, width, width), self.const(np.float32(dh ** -0.5))))
        k = split(self.linear(h, width, width))
        v = split(self.linear(h, width, width))
        scores = self.op("MatMul", q, self.op("Transpose", k, perm=[0, 1, 3, 2]))
        if mask is not None:
            scores = self.op("Add", scores, mask)
        attn = self.op("MatMul", self.op("Softmax", scores, axis=-1), v)
        attn = self.op("Reshape", self.op("Transpose", attn, perm=[0, 2, 1, 3]),
                       self.const(np.array([0, 0, width], np.int64)))
        x = self.op("Add", x, self.linear(attn, width, width))
        h = self.linear(self.layer_norm(x, width), width, 4 * width)
        h = self.op("Mul", h, self.op("Sigmoid", self.op("Mul", h, self.const(np.float32(1.702)))))  # quick-GELU
        return self.op("Add", x, self.linear(h, 4 * width, width))

    def save(self, path: Path, inp, out, name: str) -> None:
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, name, [inp], [helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT,
                                                                                        ["batch", EMBED_DIM])],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="phototrove-bench")
        model.ir_version = 8
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))


def visual_graph(path: Path) -> None:
    import onnx
    from onnx import helper

    v = VISION
    g = _Graph(seed=1)
    grid = v["image"] // v["patch"]
    x = g.op("Conv", "image", g.weight(v["width"], 3, v["patch"], v["patch"]), kernel_shape=[v["patch"]] * 2,
             strides=[v["patch"]] * 2)
    x = g.op("Transpose", g.op("Reshape", x, g.const(np.array([0, v["width"], grid * grid], np.int64))), perm=[0, 2, 1])
    batch = g.op("Slice", g.op("Shape", "image"), g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)))
    cls_shape = g.op("Concat", batch, g.const(np.array([1, v["width"]], np.int64)), axis=0)
    cls = g.op("Expand", g.weight(1, 1, v["width"]), cls_shape)
    x = g.op("Add", g.op("Concat", cls, x, axis=1), g.weight(grid * grid + 1, v["width"]))
    x = g.layer_norm(x, v["width"])
    for _ in range(v["layers"]):
        x = g.block(x, v["width"], v["heads"])
    first = g.op("Squeeze", g.op("Slice", x, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                                 g.const(np.array([1], np.int64))), g.const(np.array([1], np.int64)))
    out = g.op("MatMul", g.layer_norm(first, v["width"]), g.weight(v["width"], EMBED_DIM))
    inp = helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 3, v["image"], v["image"]])
    g.save(path, inp, out, "visual")


def textual_graph(path: Path, t: dict = TEXT, causal: bool = True) -> None:
    """open_clip's text tower as immich exports it: the token length fixed in the input, the
    positional table and the causal mask constants of that length (`causal=False`: no mask)."""
    import onnx
    from onnx import helper

    g = _Graph(seed=2)
    ids = g.op("Cast", "text", to=onnx.TensorProto.INT64)
    x = g.op("Add", g.op("Gather", g.weight(t["vocab"], t["width"]), ids), g.weight(t["context"], t["width"], scale=0.01))
    mask = np.triu(np.full((t["context"], t["context"]), -np.inf, np.float32), k=1)
    mask_name = g.const(mask, "causal") if causal else None
    for _ in range(t["layers"]):
        x = g.block(x, t["width"], t["heads"], mask=mask_name)
    x = g.layer_norm(x, t["width"])
    # pool at the end token, which has the largest id
    eot = g.op("ArgMax", g.op("Cast", "text", to=onnx.TensorProto.FLOAT), axis=1, keepdims=1)   # (n, 1)
    shape = g.op("Concat", g.op("Slice", g.op("Shape", "text"), g.const(np.array([0], np.int64)),
                                g.const(np.array([1], np.int64))), g.const(np.array([1, t["width"]], np.int64)), axis=0)
    idx = g.op("Expand", g.op("Unsqueeze", eot, g.const(np.array([2], np.int64))), shape)          # (n, 1, width)
    pooled = g.op("Squeeze", g.op("GatherElements", x, idx, axis=1), g.const(np.array([1], np.int64)))
    out = g.op("MatMul", pooled, g.weight(t["width"], EMBED_DIM))
    inp = helper.make_tensor_value_info("text", onnx.TensorProto.INT32, ["batch", t["context"]])
    g.save(path, inp, out, "textual")


def build_vitb32(out_dir: str | Path, towers=("visual", "textual"), text: dict = TEXT, causal: bool = True) -> Path:
    """Write an immich-layout ViT-B/32 (random weights) into out_dir; skips towers already there.
    `text`: other text tower sizes (tests build a tiny one), `causal`: see textual_graph."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({
        "embed_dim": EMBED_DIM,
        "vision_cfg": {"image_size": VISION["image"], "layers": VISION["layers"], "width": VISION["width"],
                       "patch_size": VISION["patch"]},
        "text_cfg": {"context_length": text["context"], "vocab_size": text["vocab"], "width": text["width"],
                     "heads": text["heads"], "layers": text["layers"]}}, indent=1))
    if "visual" in towers:
        if not (out / "visual" / "model.onnx").exists():
            visual_graph(out / "visual" / "model.onnx")
        (out / "visual" / "preprocess_cfg.json").write_text(json.dumps({
            "size": [224, 224], "mode": "RGB", "mean": OPENAI_MEAN, "std": OPENAI_STD,
            "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}, indent=1))
    if "textual" in towers:
        if not (out / "textual" / "model.onnx").exists():
            textual_graph(out / "textual" / "model.onnx", text, causal)
        sys.path.insert(0, str(ROOT / "fixtures"))
        import clip_bpe

        clip_bpe.write_tokenizer_files(out / "textual")
    return out


# -- the int8 benchmark ------------------------------------------------------------------------------
INT8_TARGET = 1.6


def _emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def _fixture_pixels(embedder) -> np.ndarray:
    from phototrove.media.decode import load_image

    photos = sorted(p for p in (ROOT / "fixtures" / "photos").iterdir() if p.is_file())
    return np.stack([embedder.preprocess(load_image(p.read_bytes(), min_side=embedder.image_size)) for p in photos])


def _op_profile(session_path: Path, x: np.ndarray, top: int = 6) -> dict:
    """Share of kernel time per op type over one run (onnxruntime's own profiler)."""
    import collections

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.enable_profiling = True
    opts.profile_file_prefix = str(session_path.parent / "profile")
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    s = ort.InferenceSession(str(session_path), opts, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    s.run(None, {name: x})   # warm-up: also profiled, then dropped below
    s.run(None, {name: x})
    trace = Path(s.end_profiling())
    events = [e for e in json.loads(trace.read_text()) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    trace.unlink()
    runs = collections.Counter()
    for e in events[len(events) // 2:]:
        runs[e["args"]["op_name"]] += e["dur"]
    total = sum(runs.values()) or 1
    return {op: round(100 * us / total, 1) for op, us in runs.most_common(top)}


def bench_int8(out: Path, batch: int, rounds: int) -> None:
    import statistics

    sys.path.insert(0, str(ROOT))
    from phototrove.embed import load_embedder
    from phototrove.embed.quantize import cpu_flags, has_vnni, reduce_range

    model = build_vitb32(out, towers=("visual",))
    flags = cpu_flags()
    _emit(metric="cpu", vnni=has_vnni(flags), avx512f="avx512f" in flags, avx2="avx2" in flags,
          seven_bit_weights=reduce_range(), cores=os.cpu_count())
    fp32 = load_embedder(str(model), towers="image", backend="onnx")
    t = time.perf_counter()
    int8 = load_embedder(str(model), towers="image", backend="onnx", precision="int8", cache_dir=out / "models")
    made = time.perf_counter() - t
    (entry,) = [p for p in (out / "models" / model.name).iterdir() if p.name.startswith("visual-int8-")]
    _emit(metric="int8_quantize", seconds=round(made, 1), cache=str(entry),
          fp32_mb=round((model / "visual" / "model.onnx").stat().st_size / 1e6, 1),
          int8_mb=round((entry / "model.onnx").stat().st_size / 1e6, 1),
          note="quantizing (the first time only: later runs find it in the cache) and loading the session")

    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224)).astype(np.float32)  # the same batch for both
    for e in (fp32, int8):
        e.encode_pixels(x[:2])
    speed: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(rounds):   # interleaved: both see the same load on the machine
        for label, e in (("fp32", fp32), ("int8", int8)):
            t = time.perf_counter()
            e.encode_pixels(x)
            speed[label].append(batch / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in speed.items()}
    # each round's int8 run over the fp32 run just before it (the same load on the machine), median
    ratio = statistics.median(i / f for f, i in zip(speed["fp32"], speed["int8"]))
    _emit(metric="int8_speed", batch=batch, rounds=rounds, fp32_images_s=round(med["fp32"], 2),
          int8_images_s=round(med["int8"], 2), fp32_best=round(max(speed["fp32"]), 2),
          int8_best=round(max(speed["int8"]), 2), ratio_int8_over_fp32=round(ratio, 2),
          ratio_of_best=round(max(speed["int8"]) / max(speed["fp32"]), 2),
          limit_at_least=INT8_TARGET, ok=ratio >= INT8_TARGET)

    pixels = _fixture_pixels(fp32)
    a, b = fp32.encode_pixels(pixels), int8.encode_pixels(pixels)
    cos = (a * b).sum(axis=1)   # both L2-normalized
    between = a @ a.T
    _emit(metric="int8_cosine", photos=len(pixels), min=round(float(cos.min()), 5), mean=round(float(cos.mean()), 5),
          fp32_between_photos_mean=round(float(between[~np.eye(len(a), dtype=bool)].mean()), 4),
          note="random weights: no outlier channels or activations as trained CLIP has (int8 looks better "
               "than it will on real weights: optimistic), and embeddings that mean nothing (the cosine says "
               "nothing about recall); check the real model's recall before relying on it")
    _emit(metric="int8_profile", batch=batch, fp32_percent_by_op=_op_profile(model / "visual" / "model.onnx", x),
          int8_percent_by_op=_op_profile(entry / "model.onnx", x))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Build the random-weight ViT-B/32; measure --precision int8 on it.")
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "bench" / "out" / "vitb32")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build-only", action="store_true", help="Only build both towers and print the folder.")
    args = ap.parse_args()
    if args.build_only:
        print(build_vitb32(args.out))
    else:
        bench_int8(args.out, args.batch, args.rounds)
