#!/usr/bin/env python3
"""Reference Kaldi features from torchaudio.compliance.kaldi, for test/audio/features.

Usage:
  kaldi_fbank_ref.py --out DIR WAV [WAV ...]   dump features of the given 16-bit PCM WAVs
  kaldi_fbank_ref.py --out DIR                 generate speech/noise/sweep WAVs with
                                               flite+sox into DIR first, then dump them

For every WAV and configuration it writes DIR/<stem>.<config>.f32 (float32 little-endian,
row-major frames x dims) and a manifest DIR/manifest.json describing the shapes, so a test can
compare without any Python in the loop. Audio is read with the stdlib `wave` module and
scaled by 1/32768, which is what torchaudio.load does for 16-bit PCM.

Each configuration is computed twice: as the embedders run it (float32 tensors, "<config>")
and with float64 input ("<config>_f64"), which isolates torchaudio's own float32 rounding
(its FFT noise floor sits ~100 dB below a frame's peak) from real algorithmic differences.
"""
import argparse
import json
import os
import subprocess
import sys
import wave

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

# Name -> (function, kwargs, sample scale). "povey" is torchaudio's default as 3D-Speaker uses it;
# "wespeaker" is WeSpeaker's front end (x 32768, hamming window).
CONFIGS = {
    "fbank_povey": ("fbank", dict(num_mel_bins=80, dither=0.0), 1.0),
    "fbank_wespeaker": ("fbank", dict(num_mel_bins=80, dither=0.0, window_type="hamming", energy_floor=0.0), 32768.0),
    "mfcc_23": ("mfcc", dict(num_mel_bins=23, num_ceps=13, dither=0.0), 1.0),
    "mfcc_80": ("mfcc", dict(num_mel_bins=80, num_ceps=20, dither=0.0), 1.0),
}


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit PCM is supported")
        n, ch, sr = w.getnframes(), w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(n), dtype="<i2").reshape(-1, ch)[:, 0]
    return data.astype(np.float32) / 32768.0, sr


def generate(out):
    """Speech (flite), white noise and a log sweep, all 16 kHz mono 16-bit."""
    paths = []

    def run(*args):
        subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    raw = os.path.join(out, "speech_raw.wav")
    run("flite", "-voice", "slt", "-t", "The quick brown fox jumps over the lazy dog.", "-o", raw)
    paths.append(os.path.join(out, "speech.wav"))
    run("sox", raw, "-r", "16000", "-c", "1", "-b", "16", paths[-1])
    paths.append(os.path.join(out, "noise.wav"))
    run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", paths[-1], "synth", "2", "whitenoise", "vol", "0.3")
    paths.append(os.path.join(out, "sweep.wav"))
    run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", paths[-1], "synth", "2", "sine", "50-7900", "vol", "0.5")
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("wavs", nargs="*")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    wavs = args.wavs or generate(args.out)
    manifest = {"torch": torch.__version__, "files": []}
    for path in wavs:
        pcm, sr = read_wav(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        entry = {"wav": os.path.abspath(path), "stem": stem, "sampleRate": sr, "outputs": {}}
        for name, (fn, kwargs, scale) in CONFIGS.items():
            for suffix, x in (
                ("", torch.from_numpy(pcm * np.float32(scale))),
                ("_f64", torch.from_numpy(pcm.astype(np.float64) * scale)),
            ):
                feats = getattr(kaldi, fn)(x.unsqueeze(0), sample_frequency=float(sr), **kwargs)
                feats = feats.numpy().astype("<f4")
                dst = os.path.join(args.out, f"{stem}.{name}{suffix}.f32")
                feats.tofile(dst)
                entry["outputs"][name + suffix] = {
                    "path": dst,
                    "frames": int(feats.shape[0]),
                    "dims": int(feats.shape[1]),
                }
        manifest["files"].append(entry)
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(os.path.join(args.out, "manifest.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
