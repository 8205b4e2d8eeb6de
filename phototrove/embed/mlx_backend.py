"""MLX backend: CLIP and SigLIP towers written against Hugging Face transformers checkpoints.

Weights are read straight from the checkpoint's safetensors (only the tensors of the towers asked
for); patch-embedding convolutions are transposed to MLX's channels-last layout; each tower uses the
activation its config names (OpenAI CLIP: quick_gelu, SigLIP: gelu_pytorch_tanh). On Apple silicon
this runs on the GPU through Metal; the Linux CPU build works but is slow (fine for tests).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from . import ModelError
from .base import Embedder
from .preprocess import ConfiguredPreprocessing, PreprocessConfig

DTYPES = ("float32", "float16", "bfloat16")


def _activation(name: str):
    import mlx.core as mx

    if name == "quick_gelu":
        return lambda x: x * mx.sigmoid(1.702 * x)
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + mx.erf(x / 1.4142135623730951))
    if name in ("gelu_pytorch_tanh", "gelu_new", "gelu_fast"):
        return lambda x: 0.5 * x * (1.0 + mx.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return lambda x: mx.maximum(x, 0)
    raise ModelError(f"unsupported activation {name!r} in the model config")


class _Encoder:
    """A pre-norm transformer encoder over weights named as in transformers' CLIP/SigLIP."""

    def __init__(self, w: dict, prefix: str, cfg: dict):
        self.w, self.prefix = w, prefix
        self.layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-5))
        self.act = _activation(cfg.get("hidden_act", "quick_gelu"))

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y + b if b is not None else y

    def norm(self, x, name):
        import mlx.core as mx

        return mx.fast.layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def attention(self, x, p, mask):
        import mlx.core as mx

        n, t, d = x.shape
        h = self.heads

        def split(y):
            return y.reshape(n, t, h, d // h).transpose(0, 2, 1, 3)

        q, k, v = (split(self.linear(x, f"{p}.{s}_proj")) for s in "qkv")
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=(d // h) ** -0.5, mask=mask)
        return self.linear(out.transpose(0, 2, 1, 3).reshape(n, t, d), f"{p}.out_proj")

    def __call__(self, x, mask=None):
        for i in range(self.layers):
            p = f"{self.prefix}.layers.{i}"
            x = x + self.attention(self.norm(x, f"{p}.layer_norm1"), f"{p}.self_attn", mask)
            y = self.norm(x, f"{p}.layer_norm2")
            x = x + self.linear(self.act(self.linear(y, f"{p}.mlp.fc1")), f"{p}.mlp.fc2")
        return x


def _load_weights(folder: Path, prefixes: tuple[str, ...], dtype) -> dict:
    import mlx.core as mx

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(f"{folder} has no .safetensors weights")
    out = {}
    for f in files:
        for k, v in mx.load(str(f)).items():
            k = k.removeprefix("model.")
            if k.startswith(prefixes) or k == "logit_scale":
                if k.endswith("patch_embedding.weight") and v.ndim == 4:
                    v = v.transpose(0, 2, 3, 1)  # (out, in, kh, kw) -> MLX (out, kh, kw, in)
                out[k] = v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v
    return out


class MlxEmbedder(ConfiguredPreprocessing, Embedder):
    backend = "mlx"

    @property
    def device(self) -> str:
        import mlx.core as mx

        return f"{'Apple GPU' if mx.default_device() == mx.gpu else 'CPU'} (MLX {mx.__version__})"

    def __init__(self, folder: str | Path, *, model_id: str | None = None, towers: str = "both",
                 dtype: str = "float32", device: str = "auto"):
        try:
            import mlx.core as mx
        except ImportError:
            raise ModelError("the MLX backend needs mlx (`pip install mlx`, Apple silicon; "
                             "or use --backend onnx)") from None
        if device != "auto":
            mx.set_default_device(mx.cpu if device == "cpu" else mx.gpu)
        if dtype not in DTYPES:
            raise ModelError(f"unsupported MLX dtype {dtype!r} (choose from {', '.join(DTYPES)})")
        self.folder = Path(folder)
        self.model_id = model_id or self.folder.name
        self.towers = towers
        self.config = json.loads((self.folder / "config.json").read_text())
        mtype = self.config.get("model_type", "clip")
        if mtype not in ("clip", "siglip"):
            raise ModelError(f"{self.folder}: model_type {mtype!r} is not supported by the MLX backend "
                             "(clip, siglip)")
        self.family = mtype
        self.vcfg = self.config.get("vision_config", {})
        self.tcfg = self.config.get("text_config", {})
        self.image_size = int(self.vcfg.get("image_size", 224))
        prefixes = []
        if towers in ("both", "image"):
            prefixes += ["vision_model.", "visual_projection."]
        if towers in ("both", "text"):
            prefixes += ["text_model.", "text_projection."]
        self.dtype = getattr(mx, dtype)
        self.w = _load_weights(self.folder, tuple(prefixes), self.dtype)
        self.pre_cfg = None
        if towers in ("both", "image"):
            pre = self.folder / "preprocessor_config.json"
            self.pre_cfg = PreprocessConfig.from_file(pre) if pre.exists() else PreprocessConfig(size=self.image_size)
            self.image_size = self.pre_cfg.size
            self._vision = _Encoder(self.w, "vision_model.encoder", self.vcfg)
        if towers in ("both", "text"):
            from .tokenize import TextTokenizer

            ctx = int(self.tcfg.get("max_position_embeddings", 77 if mtype == "clip" else 64))
            self._tokenizer = TextTokenizer.from_dir(self.folder, context_length=ctx)
            self._text = _Encoder(self.w, "text_model.encoder", self.tcfg)
        if mtype == "clip":
            self.dim = int(self.config.get("projection_dim", 512))
        else:
            self.dim = int(self.tcfg.get("projection_size") or self.tcfg.get("hidden_size")
                           or self.vcfg.get("hidden_size", 768))

    # -- images -----------------------------------------------------------------------------------
    def encode_pixels(self, batch):
        import mlx.core as mx
        import numpy as np

        if self.pre_cfg is None:
            raise ModelError("this embedder was loaded for text only")
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        w, enc = self.w, self._vision
        x = mx.array(np.asarray(batch, dtype=np.float32).transpose(0, 2, 3, 1)).astype(self.dtype)
        x = mx.conv2d(x, w["vision_model.embeddings.patch_embedding.weight"],
                      stride=int(self.vcfg.get("patch_size", 32)))
        if "vision_model.embeddings.patch_embedding.bias" in w:
            x = x + w["vision_model.embeddings.patch_embedding.bias"]
        n = x.shape[0]
        x = x.reshape(n, -1, x.shape[-1])
        if self.family == "clip":
            cls = mx.broadcast_to(w["vision_model.embeddings.class_embedding"], (n, 1, x.shape[-1]))
            x = mx.concatenate([cls, x], axis=1)
        x = x + w["vision_model.embeddings.position_embedding.weight"][: x.shape[1]]
        if self.family == "clip":
            x = enc.norm(x, "vision_model.pre_layrnorm")
            x = enc(x)
            pooled = enc.norm(x[:, 0], "vision_model.post_layernorm")
            out = pooled @ w["visual_projection.weight"].T
        else:
            x = enc.norm(enc(x), "vision_model.post_layernorm")
            out = self._map_head(x)
        return self._normalized(out)

    def _map_head(self, x):
        """SigLIP's attention-pooling head: a learned probe attends over the patch tokens."""
        import mlx.core as mx

        w, enc, p = self.w, self._vision, "vision_model.head"
        n, t, d = x.shape
        h = enc.heads
        wq, wk, wv = mx.split(w[f"{p}.attention.in_proj_weight"], 3, axis=0)
        bq, bk, bv = mx.split(w[f"{p}.attention.in_proj_bias"], 3, axis=0)
        probe = mx.broadcast_to(w[f"{p}.probe"], (n, 1, d))
        q = (probe @ wq.T + bq).reshape(n, 1, h, d // h).transpose(0, 2, 1, 3)
        k = (x @ wk.T + bk).reshape(n, t, h, d // h).transpose(0, 2, 1, 3)
        v = (x @ wv.T + bv).reshape(n, t, h, d // h).transpose(0, 2, 1, 3)
        a = mx.fast.scaled_dot_product_attention(q, k, v, scale=(d // h) ** -0.5)
        a = enc.linear(a.transpose(0, 2, 1, 3).reshape(n, 1, d), f"{p}.attention.out_proj")
        y = enc.norm(a, f"{p}.layernorm")
        a = a + enc.linear(enc.act(enc.linear(y, f"{p}.mlp.fc1")), f"{p}.mlp.fc2")
        return a[:, 0]

    # -- texts ------------------------------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str]):
        import mlx.core as mx
        import numpy as np

        if not hasattr(self, "_text"):
            raise ModelError("this embedder was loaded for images only")
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        ids_np = self._tokenizer(texts)
        w, enc = self.w, self._text
        ids = mx.array(ids_np)
        t = ids.shape[1]
        x = w["text_model.embeddings.token_embedding.weight"][ids]
        x = x + w["text_model.embeddings.position_embedding.weight"][:t]
        if self.family == "clip":
            # causal attention: padding after the end token cannot reach the pooled position
            mask = mx.triu(mx.full((t, t), -float("inf"), dtype=self.dtype), k=1)
            x = enc.norm(enc(x, mask), "text_model.final_layer_norm")
            eos = int(self.tcfg.get("eos_token_id", 2))
            if eos == 2:  # old configs: the end token has the largest id
                pos = ids_np.argmax(axis=1)
            else:
                pos = (ids_np == eos).argmax(axis=1)
            pooled = x[mx.arange(x.shape[0]), mx.array(pos)]
            out = pooled @ w["text_projection.weight"].T
        else:
            x = enc.norm(enc(x), "text_model.final_layer_norm")
            out = enc.linear(x[:, -1], "text_model.head")
        return self._normalized(out)

    def _normalized(self, out):
        import mlx.core as mx
        import numpy as np

        out = out.astype(mx.float32)
        out = out / mx.maximum(mx.linalg.norm(out, axis=-1, keepdims=True), 1e-12)
        return np.array(out, dtype=np.float32)
