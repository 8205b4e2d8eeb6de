"""A custom embedder reached through the `module:factory` hook (used by test_models)."""
from embed_fixtures import model_dir
from phototrove.embed.onnx_backend import OnnxEmbedder


def make():
    return OnnxEmbedder(model_dir("onnx", "clip-tiny"), model_id="plugin-tiny")
