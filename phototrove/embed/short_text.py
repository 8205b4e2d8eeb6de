"""Running a CLIP text tower on the query's own tokens instead of all 77.

CLIP's text transformer is causal and pools the end-of-text token, so the padding after that token
changes nothing in the result: a five-word query needs 8 positions, not 77 (a ViT-B/32 text tower:
~0.1 s -> ~0.015 s, much of what is left of a cold `trove search`). Exports fix the length in the
graph, though: the token input is declared (n, 77), and open_clip's adds a (77, width) positional
table and a (77, 77) causal mask as constants. `shortened` declares the length free and slices those
constants to the input's length (at 77 the graph computes exactly what it did); `agrees` checks on
real queries that short and padded inputs give the same vectors, since a tower that pools another
position (SigLIP pools the last one) or reshapes with a literal 77 must keep its padding. Which one a
model is, is decided once, when its optimized graph is made, and kept with that graph."""
from __future__ import annotations

from pathlib import Path

PROTOBUF_LIMIT = (2 << 30) - (64 << 20)   # a model this large cannot pass to onnxruntime as one message
AGREE_ATOL = 1e-4                         # on unit vectors: float32 noise is ~1e-6
PROBES = ("a photo of a dog on the beach", "", "Tokyo at night, 2019 — 東京の夜景",
          " ".join(["the red car"] * 30))   # the last one fills the whole context


def shortened(path: Path):
    """The tower's graph with its token length (the tokens input's second axis, e.g. 77) declared
    free and its (length, ...) constants sliced to the input's length, as an onnx ModelProto; None
    when there is nothing to do (the length is free already) or it cannot be done (too large to
    hand over in memory)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    context = _dims(graph.input[0])[1:2] if graph.input else []
    if not context or not isinstance(context[0], int) or model.ByteSize() > PROTOBUF_LIMIT:
        return None
    context = context[0]
    inputs = [i for i in graph.input if _dims(i)[1:2] == [context]]
    for i in inputs:
        i.type.tensor_type.shape.dim[1].ClearField("dim_value")
        i.type.tensor_type.shape.dim[1].dim_param = "tokens"
    prefix = "trove_short_"
    length, square = prefix + "length", prefix + "length2"
    nodes = [helper.make_node("Shape", [inputs[0].name], [prefix + "shape"]),
             helper.make_node("Slice", [prefix + "shape", prefix + "one", prefix + "two"], [length]),
             helper.make_node("Concat", [length, length], [square], axis=0)]
    consts = [numpy_helper.from_array(_int64([v]), prefix + n) for n, v in
              (("zero", 0), ("one", 1), ("two", 2))] + \
        [numpy_helper.from_array(_int64([0, 0]), prefix + "zeros"), numpy_helper.from_array(_int64([0, 1]), prefix + "axes")]
    renamed: dict[str, str] = {}
    after: dict[str, object] = {}   # a Constant node's output -> the Slice that must follow that node

    def slicer(name: str, dims: list):
        both = dims[1] == context   # a causal mask: both axes
        renamed[name] = prefix + name
        return helper.make_node("Slice", [name, prefix + ("zeros" if both else "zero"), square if both else length,
                                          prefix + ("axes" if both else "zero")], [prefix + name])

    for t in graph.initializer:   # sliced first thing (an initializer is there before any node)
        if len(t.dims) >= 2 and t.dims[0] == context:
            nodes.append(slicer(t.name, list(t.dims)))
    for n in graph.node:          # sliced right after the node that makes it (nodes stay in topological order)
        for a in n.attribute:
            if n.op_type == "Constant" and a.name == "value" and a.type == onnx.AttributeProto.TENSOR \
                    and len(a.t.dims) >= 2 and a.t.dims[0] == context:
                after[n.output[0]] = slicer(n.output[0], list(a.t.dims))
    body = []
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in renamed:
                node.input[k] = renamed[name]
        body.append(node)
        if node.op_type == "Constant" and node.output[0] in after:
            body.append(after[node.output[0]])
    del graph.node[:]
    graph.node.extend(nodes + body)
    graph.initializer.extend(consts)
    del graph.value_info[:]   # shapes inferred at 77 no longer hold: onnxruntime infers them again
    return model


def agrees(run, tokenize) -> bool:
    """Whether the tower gives the same vectors for the probe texts cut after their last token as
    padded to the full context. `run(ids, mask)` -> vectors, `tokenize(texts)` -> (ids, mask)."""
    import numpy as np

    ids, mask = tokenize(list(PROBES))
    try:
        for k in range(len(PROBES)):
            n = max(int(mask[k].sum()), 1)
            full = run(ids[k:k + 1], mask[k:k + 1])
            short = run(ids[k:k + 1, :n], mask[k:k + 1, :n])
            full, short = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (full, short))
            if full.shape != short.shape or not np.allclose(full, short, atol=AGREE_ATOL, rtol=0):
                return False
    except Exception:   # onnxruntime refusing the shorter input (a literal 77 somewhere in the graph)
        return False
    return True


def cut(ids, mask):
    """The token ids and mask without the padding after the longest text's last token."""
    n = max(int(mask.sum(axis=1).max()), 1) if len(mask) else 1
    return ids[:, :n], mask[:, :n]


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def _int64(values):
    import numpy as np

    return np.asarray(values, dtype=np.int64)
