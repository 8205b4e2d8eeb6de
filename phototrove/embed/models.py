"""The model registry: names a user can pass to `--model`, and where each backend gets its weights.

Each entry names two Hugging Face repositories holding the same model: a transformers checkpoint
(safetensors, read by the MLX backend) and an export in the layout immich's ML service publishes
(`visual/model.onnx`, `textual/model.onnx`, ... read by the ONNX backend). Embeddings from either
backend are interchangeable, so they are recorded under the registry name, not the backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str          # "clip" | "siglip"
    mlx_repo: str        # transformers checkpoint
    onnx_repo: str       # immich-layout export
    dim: int
    image_size: int
    description: str


DEFAULT_MODEL = "clip-vit-b32"

REGISTRY: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("clip-vit-b32", "clip", "openai/clip-vit-base-patch32", "immich-app/ViT-B-32__openai",
              512, 224, "OpenAI CLIP ViT-B/32: fast, the default"),
    ModelInfo("clip-vit-b16", "clip", "openai/clip-vit-base-patch16", "immich-app/ViT-B-16__openai",
              512, 224, "OpenAI CLIP ViT-B/16: slower, sharper on small details"),
    ModelInfo("clip-vit-l14", "clip", "openai/clip-vit-large-patch14", "immich-app/ViT-L-14__openai",
              768, 224, "OpenAI CLIP ViT-L/14: large, ~10x slower than B/32"),
    ModelInfo("siglip2-b16", "siglip", "google/siglip2-base-patch16-224", "immich-app/ViT-B-16-SigLIP2__webli",
              768, 224, "Google SigLIP2 base/16 at 224 px: better recall, multilingual"),
)}

# Files each backend needs, per tower. Anything else in a repository (fp16 variants, ARM NN, RKNN
# exports, pytorch_model.bin) is never downloaded.
ONNX_FILES = {
    "common": ["config.json"],
    "image": ["visual/model.onnx", "visual/preprocess_cfg.json"],
    "text": ["textual/model.onnx", "textual/tokenizer.json", "textual/tokenizer_config.json"],
}
MLX_FILES = {
    "common": ["config.json", "model.safetensors"],
    "image": ["preprocessor_config.json"],
    "text": ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
}


def files_for(backend: str, towers: str) -> list[str]:
    table = ONNX_FILES if backend == "onnx" else MLX_FILES
    out = list(table["common"])
    if towers in ("both", "image"):
        out += table["image"]
    if towers in ("both", "text"):
        out += table["text"]
    return out


def layout_of(folder: Path) -> str | None:
    """'onnx' for an immich-layout folder, 'mlx' for a transformers checkpoint, else None."""
    if (folder / "visual" / "model.onnx").exists() or (folder / "textual" / "model.onnx").exists():
        return "onnx"
    if (folder / "config.json").exists() and any(folder.glob("*.safetensors")):
        return "mlx"
    return None


def registry_entries() -> list[dict]:
    """Every registry model with what the local Hugging Face cache holds of it (never downloads)."""
    from .download import cached_towers

    return [{"name": m.name, "family": m.family, "dim": m.dim, "image_size": m.image_size,
             "default": m.name == DEFAULT_MODEL, "onnx_repo": m.onnx_repo, "mlx_repo": m.mlx_repo,
             "cached": {"onnx": cached_towers(m.onnx_repo, "onnx"), "mlx": cached_towers(m.mlx_repo, "mlx")},
             "description": m.description} for m in REGISTRY.values()]
