"""A random-weight CLIP ViT-B/32 with the real shapes, in immich's ONNX layout, built without torch.

    build_vitb32(out_dir, towers=("visual", "textual")) -> Path

The graphs are written op by op with `onnx.helper` and numpy weights: the same computation as
OpenAI's ViT-B/32 (12-layer 768-wide vision transformer on 7x7 patches of 32 px, 12-layer 512-wide
causal text transformer over 77 tokens, quick-GELU, 512-d projections), so timing it times the real
model. The text tower gets CLIP's real tokenizer (fixtures/clip_bpe.py). Benchmarks only: the
embeddings mean nothing.
"""
from __future__ import annotations

import json
import sys
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


def textual_graph(path: Path) -> None:
    import onnx
    from onnx import helper

    t = TEXT
    g = _Graph(seed=2)
    ids = g.op("Cast", "text", to=onnx.TensorProto.INT64)
    x = g.op("Add", g.op("Gather", g.weight(t["vocab"], t["width"]), ids), g.weight(t["context"], t["width"], scale=0.01))
    mask = np.triu(np.full((t["context"], t["context"]), -np.inf, np.float32), k=1)
    mask_name = g.const(mask, "causal")
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


def build_vitb32(out_dir: str | Path, towers=("visual", "textual")) -> Path:
    """Write an immich-layout ViT-B/32 (random weights) into out_dir; skips towers already there."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({
        "embed_dim": EMBED_DIM,
        "vision_cfg": {"image_size": VISION["image"], "layers": VISION["layers"], "width": VISION["width"],
                       "patch_size": VISION["patch"]},
        "text_cfg": {"context_length": TEXT["context"], "vocab_size": TEXT["vocab"], "width": TEXT["width"],
                     "heads": TEXT["heads"], "layers": TEXT["layers"]}}, indent=1))
    if "visual" in towers:
        if not (out / "visual" / "model.onnx").exists():
            visual_graph(out / "visual" / "model.onnx")
        (out / "visual" / "preprocess_cfg.json").write_text(json.dumps({
            "size": [224, 224], "mode": "RGB", "mean": OPENAI_MEAN, "std": OPENAI_STD,
            "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}, indent=1))
    if "textual" in towers:
        if not (out / "textual" / "model.onnx").exists():
            textual_graph(out / "textual" / "model.onnx")
        sys.path.insert(0, str(ROOT / "fixtures"))
        import clip_bpe

        clip_bpe.write_tokenizer_files(out / "textual")
    return out


if __name__ == "__main__":
    print(build_vitb32(sys.argv[1] if len(sys.argv) > 1 else ROOT / "bench" / "out" / "vitb32"))
