"""Writes src/test/resources/gguf/kquants.json: random Q4_K and Q6_K blocks and what llama.cpp's
gguf-py (pip install gguf==0.19.0; its numpy port of ggml-quants.c) dequantizes them to, for
jllm's GgufModel test of its own dequantization.

    python3 tools/gguf/make_kquant_fixture.py
"""
import base64
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

rng = np.random.default_rng(20261205)
out = {"source": "gguf 0.19.0 (gguf-py, pip) gguf.quants.dequantize"}
for qtype, name, block_bytes, scale_offsets in [(T.Q4_K, "Q4_K", 144, [0, 2]), (T.Q6_K, "Q6_K", 210, [208])]:
    blocks = rng.integers(0, 256, size=(3, block_bytes), dtype=np.uint8)
    for b in blocks:  # finite f16 scales of a realistic size (random bytes could be NaN or huge)
        for off in scale_offsets:
            b[off:off + 2] = np.frombuffer(np.float16(rng.uniform(-0.05, 0.05)).tobytes(), dtype=np.uint8)
    raw = blocks.tobytes()
    values = dequantize(np.frombuffer(raw, dtype=np.uint8).reshape(1, -1), qtype).astype("<f4").reshape(-1)
    out[name] = {"blocks": base64.b64encode(raw).decode(), "values_f32le": base64.b64encode(values.tobytes()).decode(),
                 "n": int(values.size)}
path = pathlib.Path(__file__).resolve().parents[2] / "src/test/resources/gguf/kquants.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print("wrote", path)
