"""ONNX Runtime backend for model folders in immich's layout:

    config.json                    open_clip model config (embed_dim, text_cfg.context_length, ...)
    visual/model.onnx              pixels (n, 3, s, s) -> image embeddings
    visual/preprocess_cfg.json     size, mean/std, interpolation, resize_mode
    textual/model.onnx             token ids (n, context) -> text embeddings
    textual/tokenizer.json, textual/tokenizer_config.json

Each tower is its own session, opened only when that tower is asked for, so a text query never pays
for loading the image tower. Inputs are fed as the exported graph declares them (names, dtypes, a
fixed batch of one), not as we assume.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from . import ModelError
from .base import Embedder, l2_normalize
from .preprocess import ConfiguredPreprocessing, PreprocessConfig

# Preference order: the first available one wins; CPU is always there.
PROVIDER_PREFERENCE = ("CUDAExecutionProvider", "ROCMExecutionProvider", "CoreMLExecutionProvider",
                       "DmlExecutionProvider", "OpenVINOExecutionProvider", "CPUExecutionProvider")
_NP_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
             "tensor(int64)": "int64", "tensor(int32)": "int32"}


DEVICES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider",
           "coreml": "CoreMLExecutionProvider", "directml": "DmlExecutionProvider",
           "openvino": "OpenVINOExecutionProvider"}
_LABEL = {p: name.upper() if name in ("cpu", "cuda", "rocm") else name for name, p in DEVICES.items()}
_PACKAGE = {"cuda": "onnxruntime-gpu", "rocm": "onnxruntime-rocm", "directml": "onnxruntime-directml",
            "openvino": "onnxruntime-openvino"}


def best_providers(device: str = "auto") -> list[str]:
    """The execution providers to run with: the best available for `auto`; the one asked for
    (`--device`, or env TROVE_ONNX_PROVIDERS as a list) or a ModelError saying it is not there."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = os.environ.get("TROVE_ONNX_PROVIDERS")
    if device == "auto" and wanted:  # e.g. "CPUExecutionProvider" to rule out a flaky GPU provider
        asked = [p.strip() for p in wanted.split(",") if p.strip()]
        missing = [p for p in asked if p not in available]
        if missing:
            raise ModelError(f"TROVE_ONNX_PROVIDERS asks for {', '.join(missing)}, which this onnxruntime "
                             f"does not have (it has: {', '.join(available)})")
        return asked
    if device == "auto":
        return [p for p in PROVIDER_PREFERENCE if p in available]
    if device not in DEVICES:
        raise ModelError(f"unknown device {device!r} (choose from auto, {', '.join(DEVICES)})")
    provider = DEVICES[device]
    if provider not in available:
        package = _PACKAGE.get(device)
        raise ModelError(f"--device {device}: this onnxruntime has no {provider} (it has: {', '.join(available)})"
                         + (f"; install {package} in place of onnxruntime "
                            f"(`pip uninstall -y onnxruntime && pip install {package}`)" if package else ""))
    return [provider] + (["CPUExecutionProvider"] if provider != "CPUExecutionProvider" else [])


def provider_label(provider: str) -> str:
    return _LABEL.get(provider, provider.removesuffix("ExecutionProvider"))


class _Tower:
    """One ONNX session and how to feed it."""

    def __init__(self, path: Path, threads: int | None = None, device: str = "auto"):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # no busy-waiting between ops: the crawler's decode threads need those cycles
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        providers = best_providers(device)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as e:
            raise ModelError(f"cannot load {path}: {str(e).splitlines()[0][:200]}") from None
        self.inputs = self.session.get_inputs()
        self.output = self.session.get_outputs()[0].name
        first = self.inputs[0].shape[0]
        self.fixed_batch = first if isinstance(first, int) and first > 0 else None

    def dtype(self, i: int = 0) -> str:
        return _NP_TYPES.get(self.inputs[i].type, "float32")

    def run(self, feeds: dict) -> "np.ndarray":  # noqa: F821
        import numpy as np

        n = len(next(iter(feeds.values())))
        if self.fixed_batch is None or self.fixed_batch == n:
            return self.session.run([self.output], feeds)[0]
        step = self.fixed_batch  # an export with a fixed batch size: feed it slices of that size
        outs = []
        for i in range(0, n, step):
            part = {k: v[i:i + step] for k, v in feeds.items()}
            short = step - len(part[next(iter(part))])
            if short:
                part = {k: np.concatenate([v, np.repeat(v[-1:], short, axis=0)]) for k, v in part.items()}
            outs.append(self.session.run([self.output], part)[0][:step - short])
        return np.concatenate(outs)


class OnnxEmbedder(ConfiguredPreprocessing, Embedder):
    backend = "onnx"

    def __init__(self, folder: str | Path, *, model_id: str | None = None, towers: str = "both",
                 threads: int | None = None, device: str = "auto"):
        self.folder = Path(folder)
        self.model_id = model_id or self.folder.name
        self.towers = towers
        self.threads = threads
        cfg_path = self.folder / "config.json"
        self.config = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        self.dim = int(self.config.get("embed_dim") or 0)
        self._visual: _Tower | None = None
        self._textual: _Tower | None = None
        self._tokenizer = None
        self.pre_cfg = None
        if towers in ("both", "image"):
            pre = self.folder / "visual" / "preprocess_cfg.json"
            if not (self.folder / "visual" / "model.onnx").exists() or not pre.exists():
                raise ModelError(f"{self.folder} has no image tower (visual/model.onnx + visual/preprocess_cfg.json)")
            self.pre_cfg = PreprocessConfig.from_file(pre)
            self.image_size = self.pre_cfg.size
            self._visual = _Tower(self.folder / "visual" / "model.onnx", threads, device)
        else:
            self.image_size = int(self.config.get("vision_cfg", {}).get("image_size", 224))
        if towers in ("both", "text"):
            if not (self.folder / "textual" / "model.onnx").exists():
                raise ModelError(f"{self.folder} has no text tower (textual/model.onnx)")
            from .tokenize import TextTokenizer

            text_cfg = self.config.get("text_cfg", {})
            clean = (text_cfg.get("tokenizer_kwargs") or {}).get("clean")
            self._tokenizer = TextTokenizer.from_dir(self.folder / "textual", context_length=text_cfg.get("context_length"),
                                                     clean=clean)
            self._textual = _Tower(self.folder / "textual" / "model.onnx", threads, device)
        if not self.dim:  # no config: ask the graph
            tower = self._visual or self._textual
            out = tower.session.get_outputs()[0].shape[-1]
            self.dim = int(out) if isinstance(out, int) else 0

    @property
    def device(self) -> str:
        """Where the model runs, as said once per run: `CPU (onnxruntime 1.20.1)`."""
        import onnxruntime as ort

        tower = self._visual or self._textual
        return f"{provider_label(tower.session.get_providers()[0])} (onnxruntime {ort.__version__})"

    def encode_pixels(self, batch):
        import numpy as np

        if self._visual is None:
            raise ModelError("this embedder was loaded for text only")
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = np.asarray(batch, dtype=self._visual.dtype())
        return l2_normalize(self._visual.run({self._visual.inputs[0].name: x}))

    def encode_texts(self, texts: Sequence[str]):
        import numpy as np

        if self._textual is None:
            raise ModelError("this embedder was loaded for images only")
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        ids, mask = self._tokenizer.encode(texts)
        feeds = {}
        for i, spec in enumerate(self._textual.inputs):
            if "mask" in spec.name:
                feeds[spec.name] = mask.astype(self._textual.dtype(i))
            else:
                feeds[spec.name] = ids.astype(self._textual.dtype(i))
        return l2_normalize(self._textual.run(feeds))
