"""ONNX Runtime backend for model folders in immich's layout:

    config.json                    open_clip model config (embed_dim, text_cfg.context_length, ...)
    visual/model.onnx              pixels (n, 3, s, s) -> image embeddings
    visual/preprocess_cfg.json     size, mean/std, interpolation, resize_mode
    textual/model.onnx             token ids (n, context) -> text embeddings
    textual/tokenizer.json, textual/tokenizer_config.json

Each tower is its own session, opened only when that tower is asked for, so a text query never pays
for loading the image tower. Inputs are fed as the exported graph declares them (names, dtypes, a
fixed batch of one), not as we assume.

With a cache folder (the library's `models/`, cache.py): the text tower's graph, as onnxruntime
optimizes it, is saved there on first load with its weights in a file of their own, which later
loads memory-map instead of parsing (a ViT-B/32 text tower: ~1 s -> ~0.2 s, most of a cold
`trove search`), running on the query's own tokens where that gives the same vectors (short_text.py);
a CLIP tokenizer is kept there in a compact form too (clip_tokenizer.py: ~0.3 s -> a few ms); and
`precision="int8"` runs the image tower quantized (quantize.py), made once.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

from . import PRECISIONS, ModelError
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


def _options(threads: int | None, level: str = "ORT_ENABLE_ALL", once: bool = False):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    opts.log_severity_level = 3
    # no busy-waiting between ops: the crawler's decode threads need those cycles
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    if once:  # prepacking the weights pays off over many runs; once, it costs more than it saves
        opts.add_session_config_entry("session.disable_prepacking", "1")
    return opts


STAGGER_S = 0.06   # see OnnxEmbedder._load_text
GRAPH_SAVED_AT = "ORT_ENABLE_EXTENDED"   # the highest level whose saved graph is not tied to this CPU
GRAPH_LOADED_AT = "ORT_DISABLE_ALL"      # what is saved is optimized already (measured: no slower to run)


def _cached_session(path: Path, threads: int | None, providers: list[str], cache, name: str, starting,
                    once: bool = False, rewrite: Callable | None = None):
    """(a session on the optimized graph kept in `cache`, made and saved now if it is not there yet,
    and the entry's key); None when there is no usable entry and none can be written (a read-only
    library). `rewrite(path)`: the graph to optimize instead of the file's (an onnx ModelProto), or None."""
    import onnxruntime as ort

    from .cache import cache_key

    try:
        key = cache_key(path, kind="optimized-graph", providers=providers, level=GRAPH_SAVED_AT,
                        **({"rewrite": getattr(rewrite, "__name__", "yes")} if rewrite else {}))
    except OSError:
        return None
    found = cache.lookup(name, key)
    if found is not None:
        try:
            starting()
            return ort.InferenceSession(str(found), sess_options=_options(threads, GRAPH_LOADED_AT, once),
                                        providers=providers), key
        except Exception:  # damaged in a way its sizes do not show: made again below
            cache.discard(name, key)
    if not cache.writable():
        return None

    def make(out: Path):
        opts = _options(threads, GRAPH_SAVED_AT, once)
        opts.optimized_model_filepath = str(out)
        opts.add_session_config_entry("session.optimized_model_external_initializers_file_name", "model.data")
        opts.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        graph = None
        if rewrite is not None:
            try:
                graph = rewrite(path)
            except Exception:   # a graph the rewrite does not understand: optimized as exported
                graph = None
        starting()
        return ort.InferenceSession(graph.SerializeToString() if graph is not None else str(path),
                                    sess_options=opts, providers=providers)

    try:
        return cache.build(name, key, make, info={"source": str(path), "providers": providers})[0], key
    except Exception:  # cannot be written (disk full, permissions), or the model itself fails: said below
        return None


class _Tower:
    """One ONNX session and how to feed it."""

    def __init__(self, path: Path, threads: int | None = None, device: str = "auto", *, cache=None,
                 cache_name: str | None = None, starting=lambda: None, once: bool = False,
                 rewrite: Callable | None = None):
        """`starting` is called right before onnxruntime builds a session (it lets go of the GIL then);
        `once`: the session will run about once (see OnnxEmbedder); `rewrite`: see _cached_session."""
        import onnxruntime as ort

        providers = best_providers(device)
        cached = _cached_session(path, threads, providers, cache, cache_name, starting, once, rewrite) \
            if cache is not None else None
        session, key = cached if cached is not None else (None, None)
        self.entry = (cache, cache_name, key) if key is not None else None   # where it was kept
        self.short_inputs = False   # a text tower that runs on the tokens only (short_text.py)
        if session is None:
            try:
                starting()
                session = ort.InferenceSession(str(path), sess_options=_options(threads, once=once),
                                               providers=providers)
            except Exception as e:
                raise ModelError(f"cannot load {path}: {str(e).splitlines()[0][:200]}") from None
        self.session = session
        self.inputs = self.session.get_inputs()
        self.output = self.session.get_outputs()[0].name
        first = self.inputs[0].shape[0]
        self.fixed_batch = first if isinstance(first, int) and first > 0 else None

    def dtype(self, i: int = 0) -> str:
        return _NP_TYPES.get(self.inputs[i].type, "float32")

    def run(self, feeds: dict, quiet: bool = False) -> "np.ndarray":  # noqa: F821
        """`quiet`: a failure is the caller's answer (a probe), not an error for onnxruntime to log."""
        import numpy as np

        options = None
        if quiet:
            import onnxruntime as ort

            options = ort.RunOptions()
            options.log_severity_level = 4
        n = len(next(iter(feeds.values())))
        if self.fixed_batch is None or self.fixed_batch == n:
            return self.session.run([self.output], feeds, options)[0]
        step = self.fixed_batch  # an export with a fixed batch size: feed it slices of that size
        outs = []
        for i in range(0, n, step):
            part = {k: v[i:i + step] for k, v in feeds.items()}
            short = step - len(part[next(iter(part))])
            if short:
                part = {k: np.concatenate([v, np.repeat(v[-1:], short, axis=0)]) for k, v in part.items()}
            outs.append(self.session.run([self.output], part, options)[0][:step - short])
        return np.concatenate(outs)


class OnnxEmbedder(ConfiguredPreprocessing, Embedder):
    backend = "onnx"

    def __init__(self, folder: str | Path, *, model_id: str | None = None, towers: str = "both",
                 threads: int | None = None, device: str = "auto", precision: str = "fp32",
                 cache_dir: str | Path | None = None, log: Callable[[str], None] | None = None,
                 once: bool = False):
        """`once`: the towers run about once in this process (a `trove search`): their weights are
        used as loaded, not first repacked for onnxruntime's matrix kernels, which costs more than
        one run saves (ViT-B/32 text tower: ~0.3 s and ~150 MB at load for ~0.05 s per run)."""
        self.folder = Path(folder)
        self.once = once
        self.model_id = model_id or self.folder.name
        self.towers = towers
        self.threads = threads
        if precision not in PRECISIONS:
            raise ModelError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
        self.precision = precision if towers in ("both", "image") else "fp32"  # text always runs in float32
        self._log = log or (lambda message: None)
        self.cache = None
        if cache_dir is not None:
            from .cache import ModelCache, model_folder

            self.cache = ModelCache(model_folder(cache_dir, self.model_id))
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
            if self.precision == "int8":
                self._visual = self._int8_visual(self.folder / "visual" / "model.onnx", threads, device)
            else:
                self._visual = _Tower(self.folder / "visual" / "model.onnx", threads, device, once=once)
        else:
            self.image_size = int(self.config.get("vision_cfg", {}).get("image_size", 224))
        if towers in ("both", "text"):
            if not (self.folder / "textual" / "model.onnx").exists():
                raise ModelError(f"{self.folder} has no text tower (textual/model.onnx)")
            self._load_text(threads, device)
        if not self.dim:  # no config: ask the graph
            tower = self._visual or self._textual
            out = tower.session.get_outputs()[0].shape[-1]
            self.dim = int(out) if isinstance(out, int) else 0

    def _load_text(self, threads: int | None, device: str) -> None:
        """With a cache folder whose entry says the model's tokenizer is CLIP's byte-level BPE
        (clip_tokenizer.py), the tokenizer is read from the entry's compact file in a few ms and
        `tokenizers` is not even imported. Otherwise the tokenizer is parsed (~0.3 s for CLIP's,
        holding the GIL) in a thread while onnxruntime, which lets go of the GIL, builds the
        session: a cold text query waits for the longer of the two only. The thread starts parsing
        a little after the session starts being built (STAGGER_S: onnxruntime's model load, then a
        few Python lines, then the long native initialization), or as soon as it is built: were it
        to hold the GIL across those lines, the session would wait for it. Then, in a library that
        can be written, the entry is made (once: the verdict, true or false, is kept)."""
        import threading

        import onnxruntime  # noqa: F401

        from .tokenize import TextTokenizer

        text_cfg = self.config.get("text_cfg", {})
        clean = (text_cfg.get("tokenizer_kwargs") or {}).get("clean")
        folder = self.folder / "textual"
        fast, plan = None, None
        if self.cache is not None:
            from .clip_tokenizer import cached_tokenizer

            fast, plan = cached_tokenizer(self.cache, folder, context_length=text_cfg.get("context_length"),
                                          clean=clean)

        def tower(starting=lambda: None) -> _Tower:
            return _Tower(folder / "model.onnx", threads, device, cache=self.cache, cache_name="textual-graph",
                          starting=starting, once=self.once, rewrite=self._short_graph)

        if fast is not None:
            self._textual = tower()
            self._tokenizer = fast
            self._textual.short_inputs = self._short_inputs_verdict()
            return

        import tokenizers  # noqa: F401  (imported here: the thread below imports nothing)

        got: dict = {}
        go, built = threading.Event(), threading.Event()

        def load_tokenizer() -> None:
            if go.wait(5):
                built.wait(STAGGER_S)   # (no waiting when the session is built sooner)
            if "cancelled" in got:   # the session failed: its error is what the caller sees
                return
            try:
                got["tokenizer"] = TextTokenizer.from_dir(folder, context_length=text_cfg.get("context_length"),
                                                          clean=clean)
            except BaseException as e:  # raised below, in the caller's thread
                got["error"] = e

        thread = threading.Thread(target=load_tokenizer, name="trove-tokenizer", daemon=True)
        thread.start()
        try:
            self._textual = tower(starting=go.set)
        except BaseException:
            got["cancelled"] = True
            raise
        finally:
            go.set()
            built.set()
            thread.join()
        if "error" in got:
            raise got["error"]
        self._tokenizer = got["tokenizer"]
        if plan is not None:
            plan.build(self._tokenizer)
        self._textual.short_inputs = self._short_inputs_verdict()

    @staticmethod
    def _short_graph(path: Path):
        from .short_text import shortened

        return shortened(path)

    def _short_inputs_verdict(self) -> bool:
        """Whether the text tower runs on the query's tokens only: decided once per cached graph, on
        probe texts (short_text.agrees), and kept in the entry's meta.json."""
        from .short_text import agrees

        tower = self._textual
        if tower.entry is None:
            return False
        cache, name, key = tower.entry
        verdict = cache.info(name, key).get("short_inputs")
        if not isinstance(verdict, bool):
            fixed = any(isinstance(i.shape[1], int) for i in tower.inputs if len(i.shape) > 1)
            verdict = not fixed and agrees(lambda ids, mask: tower.run(self._text_feeds(ids, mask), quiet=True),
                                           self._tokenizer.encode)
            cache.annotate(name, key, short_inputs=verdict)
        return verdict

    def _int8_visual(self, source: Path, threads: int | None, device: str) -> _Tower:
        """The image tower quantized to int8, from the library's cache, made there first if needed."""
        from ..errors import DiskFull, is_disk_full
        from .cache import cache_key
        from .quantize import OPTIONS, quantize, reduce_range

        if self.cache is None:
            raise ModelError("--precision int8 keeps the quantized model in the library: "
                             "load the model with a cache folder (cache_dir)")
        reduce = reduce_range()
        key = cache_key(source, kind="int8", options=OPTIONS, reduce_range=reduce)
        name = "visual-int8"
        for attempt in (1, 2):
            found = self.cache.lookup(name, key)
            if found is None:
                self._log(f"quantizing the image tower of {self.model_id} to int8 (once; kept in {self.cache.folder})")
                try:
                    found = self.cache.build(name, key, lambda out: quantize(source, out, reduce=reduce),
                                             info={"source": str(source), "options": OPTIONS,
                                                   "reduce_range": reduce})[1]
                except OSError as e:
                    if is_disk_full(e):
                        raise DiskFull(e.strerror or str(e), f"the disk holding {self.cache.folder}") from None
                    raise ModelError(f"cannot write the int8 model into {self.cache.folder}: "
                                     f"{e.strerror or e}") from None
            try:
                return _Tower(found, threads, device)
            except ModelError:
                if attempt == 2:
                    raise
                self.cache.discard(name, key)   # unreadable although whole by its sizes: made again
        raise AssertionError("unreachable")

    @property
    def device(self) -> str:
        """Where the model runs, as said once per run: `CPU (onnxruntime 1.20.1)`."""
        import onnxruntime as ort

        tower = self._visual or self._textual
        int8 = ", int8 image tower" if self._visual is not None and self.precision == "int8" else ""
        return f"{provider_label(tower.session.get_providers()[0])} (onnxruntime {ort.__version__}{int8})"

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
        if self._textual.short_inputs:
            from .short_text import cut

            ids, mask = cut(ids, mask)
        return l2_normalize(self._textual.run(self._text_feeds(ids, mask)))

    def _text_feeds(self, ids, mask) -> dict:
        feeds = {}
        for i, spec in enumerate(self._textual.inputs):
            if "mask" in spec.name:
                feeds[spec.name] = mask.astype(self._textual.dtype(i))
            else:
                feeds[spec.name] = ids.astype(self._textual.dtype(i))
        return feeds
