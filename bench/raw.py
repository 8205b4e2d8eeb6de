"""Camera RAW throughput: the read stage against sha256sum, and the embed stage against the same
photos as plain JPEGs.

Generates N distinct 24-megapixel-class NEFs (a 6000x4000 sensor IFD of --sensor-mb MB and a
full-size 6000x4000 JPEG preview that compresses like a photo, plus the small previews cameras
write), and the same full-size previews as standalone JPEGs. Then, on a warm page cache:
  - `sha256sum` over the RAWs, and `trove ingest folder RAWS --no-embed` (discover + read: hash,
    RAW structure, metadata): target within 1.5x of sha256sum;
  - the embed stage alone (a second run with the model: nothing left to read) on the RAWs and on
    the JPEGs, with a random-weight CLIP ViT-B/32 on ONNX Runtime (bench/vitb32.py): RAW images/s
    within 0.9x of the JPEGs' (the preview is found without demosaicing and decoded at the DCT
    scale the model needs).
Prints one JSON object per line.   Usage: python bench/raw.py [--count 40] [--sensor-mb 20]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "fixtures"))
import media_fixtures as mf  # noqa: E402
from limits import hashlib_threads, threads  # noqa: E402
from synth import photo, with_comment  # noqa: E402


def emit(**kw) -> None:
    print(json.dumps({"bench": "raw", **kw}), flush=True)


def build(work: Path, count: int, sensor_mb: int) -> tuple[list[Path], list[Path]]:
    raws, jpegs = work / "raw", work / "jpeg"
    raws.mkdir()
    jpegs.mkdir()
    bases = [photo(s, 6000, 4000) for s in range(3)]
    small = [mf.preview_jpeg(s, 640, 424) for s in range(3)], [mf.preview_jpeg(s, 160, 120) for s in range(3)]
    for i in range(count):
        full = with_comment(bases[i % 3], f"shot {i}")
        data = mf.tiff_raw_with_previews(".nef", i, previews=((6000, 4000), (640, 424), (160, 120)),
                                         jpegs=[full, small[0][i % 3], small[1][i % 3]],
                                         sensor_bytes=sensor_mb * 1_000_000)
        (raws / f"DSC_{i:04d}.NEF").write_bytes(data)
        (jpegs / f"DSC_{i:04d}.JPG").write_bytes(full)
    return sorted(raws.iterdir()), sorted(jpegs.iterdir())


def trove(library: Path, folder: Path, *extra: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "phototrove.cli", "--library", str(library), "-q", "ingest", "folder", str(folder),
           "--json", *extra]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"ingest failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return secs, json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    from vitb32 import build_vitb32

    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--sensor-mb", type=int, default=20, help="size of each RAW's sensor data")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trove-bench-raw-"))
    try:
        t = time.perf_counter()
        raws, jpegs = build(work, args.count, args.sensor_mb)
        raw_bytes = sum(p.stat().st_size for p in raws)
        emit(stage="generate", seconds=round(time.perf_counter() - t, 2), files=len(raws), raw_bytes=raw_bytes,
             jpeg_bytes=sum(p.stat().st_size for p in jpegs), cpus=os.cpu_count(),
             load_avg=round(os.getloadavg()[0], 2))
        subprocess.run(["cat", *map(str, raws), *map(str, jpegs)], stdout=subprocess.DEVNULL, check=True)

        t = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, raws)], stdout=subprocess.DEVNULL, check=True)
        base = time.perf_counter() - t
        emit(stage="sha256sum", seconds=round(base, 2), mb_per_s=round(raw_bytes / base / 1e6, 1))
        limit = hashlib_threads(raws)
        emit(stage="hashlib_threads", seconds=round(limit, 2), threads=threads(),
             mb_per_s=round(raw_bytes / limit / 1e6, 1))
        secs, s = trove(work / "lib-raw", work / "raw", "--no-embed")
        emit(stage="read", seconds=round(secs, 2), ratio_to_sha256sum=round(secs / base, 2),
             ratio_to_limit=round(secs / limit, 2), limit=1.5,
             mb_per_s=round(raw_bytes / secs / 1e6, 1), photos=s.get("read.photos", 0), errors=s["errors"])

        model = str(build_vitb32(args.out / "vitb32", towers=("visual",)))
        rates = {}
        for label, folder in (("raw", work / "raw"), ("jpeg", work / "jpeg")):
            lib = work / f"lib-{label}"
            if label == "jpeg":
                trove(lib, folder, "--no-embed")   # the catalog first: the next run is the embed stage alone
            secs, s = trove(lib, folder, "--model", model, "--backend", "onnx")
            rates[label] = s.get("embed.photos", 0) / secs
            emit(stage=f"embed-{label}", seconds=round(secs, 2), images=s.get("embed.photos", 0),
                 images_per_s=round(rates[label], 2), errors=s["errors"])
        emit(stage="summary", raw_over_jpeg_images_per_s=round(rates["raw"] / rates["jpeg"], 3), limit_at_least=0.9)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
