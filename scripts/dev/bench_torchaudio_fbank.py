#!/usr/bin/env python3
"""Times torchaudio.compliance.kaldi.fbank single-threaded, as the reference for
bench/audio/features/features.ts.

Usage: bench_torchaudio_fbank.py PCM_F32LE_16K [repeats=3]
Prints one JSON line: audio seconds, wall times of each repeat with the whole file in one call
(as the embedders call it) and with the file cut into 10 s calls (torchaudio's per-call cost
grows with the call size: its strided frame matrix stops fitting in cache), torch version and
thread count. Default fbank options (80 mel bins, povey, dither 0) on float32 input, i.e. what
3D-Speaker runs.
"""
import json
import sys
import time

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    pcm = np.fromfile(path, dtype="<f4")
    x = torch.from_numpy(pcm).unsqueeze(0)
    kaldi.fbank(x[:, : 16000 * 10], num_mel_bins=80, dither=0.0)  # warm-up
    times = []
    chunked = []
    frames = 0
    step = 16000 * 10
    for _ in range(repeats):
        t0 = time.perf_counter()
        feats = kaldi.fbank(x, num_mel_bins=80, dither=0.0)
        times.append(time.perf_counter() - t0)
        frames = int(feats.shape[0])
        t0 = time.perf_counter()
        for o in range(0, x.shape[1], step):
            piece = x[:, o : o + step]
            if piece.shape[1] >= 400:
                kaldi.fbank(piece, num_mel_bins=80, dither=0.0)
        chunked.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "audioSec": len(pcm) / 16000,
                "frames": frames,
                "times": times,
                "chunkedTimes": chunked,
                "torch": torch.__version__,
                "torchaudio": torchaudio.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
