"""`--precision int8`: the ONNX image tower quantized once, on the user's machine, with onnxruntime's
own dynamic quantization, and cached in the library (cache.py).

What is quantized, and why:
- the weight MatMuls/Gemms only (`MatMulConstBOnly`): they are ~90% of a ViT's time. Their weights
  become int8 per output channel; activations are quantized to uint8 at run time
  (DynamicQuantizeLinear, fused by onnxruntime into DynamicQuantizeMatMul / MatMulIntegerToFloat).
  Attention's activation x activation MatMuls and the patch Conv stay float32: quantizing them
  costs accuracy and, in onnxruntime's kernels (ConvInteger), speed.
- uint8 x int8 (U8S8) is what onnxruntime's x86 kernels are fastest at: VPDPBUSD on CPUs with VNNI
  (AVX512-VNNI, AVX-VNNI); VPMADDUBSW on plain AVX2/AVX-512, which adds pairs of u8*s8 products in
  16 bits and saturates. So on x86 without VNNI the weights use 7 bits (`reduce_range`), which
  cannot saturate; with VNNI (and on ARM) the full 8 bits.
"""
from __future__ import annotations

import logging
import platform
import sys
from pathlib import Path

from . import ModelError

OPTIONS = {"weight_type": "QInt8", "activation_type": "QUInt8", "per_channel": True,
           "op_types_to_quantize": ["MatMul", "Gemm"], "extra_options": {"MatMulConstBOnly": True}}


def cpu_flags() -> set[str]:
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("flags"):
                        return set(line.split(":", 1)[1].split())
        except OSError:
            pass
    elif sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.leaf7_features", "machdep.cpu.features"],
                                 capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return set()
        return {f.lower().replace("avx512vnni", "avx512_vnni") for f in out.split()}
    return set()


def has_vnni(flags: set[str] | None = None) -> bool:
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def reduce_range() -> bool:
    """7-bit weights on x86 CPUs without VNNI (see the module's docstring); unknown x86 counts as without."""
    machine = platform.machine().lower()
    return machine in ("x86_64", "amd64", "i386", "i686", "x86") and not has_vnni()


def quantize(source: Path, out: Path, *, reduce: bool) -> None:
    """Write the int8 version of the float32 ONNX model `source` to `out`. ModelError (one line)
    when onnxruntime's quantization tools (or the onnx package they need) are missing or fail."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        raise ModelError(f"--precision int8 needs onnxruntime's quantization tools, which cannot be imported "
                         f"({missing}): `pip install onnx` (or reinstall phototrove), or leave --precision out"
                         ) from None
    quiet = _DropQuantizerNotes()
    root = logging.getLogger()
    root.addFilter(quiet)   # "Please consider to run pre-processing before quantization": not the user's business
    try:
        quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=OPTIONS["per_channel"],
                         reduce_range=reduce, op_types_to_quantize=list(OPTIONS["op_types_to_quantize"]),
                         extra_options=dict(OPTIONS["extra_options"]))
    except MemoryError:
        raise ModelError(f"not enough memory to quantize {source} to int8; leave --precision out") from None
    except OSError:
        raise   # a full disk or an unwritable library: the caller says which
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelError(f"cannot quantize {source} to int8 ({type(e).__name__}: {first}); "
                         "leave --precision out to embed in float32") from None
    finally:
        root.removeFilter(quiet)


class _DropQuantizerNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "/onnxruntime/quantization/" not in record.pathname.replace("\\", "/")
