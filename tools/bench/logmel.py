#!/usr/bin/env python3
"""The peer for ReelMedia's log-mel benchmark (Tests/ReelMediaTests/LogMelBenchmark.swift runs this in the same run).

    python3 tools/bench/logmel.py SAMPLES.f32 MELS REPETITIONS

Times transformers' WhisperFeatureExtractor(feature_size=MELS) on one 30 s window of raw little-endian f32 samples,
on both of its paths (torch: `_torch_extract_fbank_features`, MKL's f32 STFT; numpy: `_np_extract_fbank_features`, as
when torch is absent), one thread, best of REPETITIONS; prints {"torch_ms": …, "numpy_ms": …} as JSON.
"""
import json, os, sys, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch
import transformers.models.whisper.feature_extraction_whisper as fxw
from transformers import WhisperFeatureExtractor

torch.set_num_threads(1)
x = np.fromfile(sys.argv[1], "<f4")
fe = WhisperFeatureExtractor(feature_size=int(sys.argv[2]))
reps = int(sys.argv[3])


def best():
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fe(x, sampling_rate=16000, return_tensors="np")
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)


torch_ms = best()
fxw.is_torch_available = lambda: False
print(json.dumps({"torch_ms": round(torch_ms, 2), "numpy_ms": round(best(), 2)}))
