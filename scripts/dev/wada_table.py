#!/usr/bin/env python3
"""Regenerates the WADA-SNR lookup table used by src/audio/features/snr.ts.

Kim & Stern (2008), "Robust signal-to-noise ratio estimation based on waveform amplitude
distribution analysis", Interspeech: clean speech samples are modelled as a symmetric
Gamma-distributed amplitude with shape 0.4, noise as Gaussian; for z = s + n the statistic
G(z) = ln E|z| − E ln|z| grows monotonically with the SNR E[s²]/E[n²]. This script tabulates G
from −20 to +100 dB in 1 dB steps by Monte Carlo with common random numbers (so the table is
smooth and monotone), using the closed-form Gaussian expectation E|a + σn| for the first term.

Usage: python3 scripts/dev/wada_table.py [samples=20000000]   (numpy, scipy)
"""
import sys

import numpy as np
from scipy.special import erf

ALPHA = 0.4


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000
    rng = np.random.default_rng(20080922)
    chunks = 20
    m = n // chunks
    snrs = np.arange(-20, 101)
    var_s = ALPHA * (ALPHA + 1)  # E[s²] for |s| ~ Gamma(0.4, 1)
    e_abs = np.zeros(len(snrs))
    e_log = np.zeros(len(snrs))
    for _ in range(chunks):
        s = rng.gamma(ALPHA, 1.0, m) * rng.choice([-1.0, 1.0], m)
        g = rng.standard_normal(m)
        for i, snr in enumerate(snrs):
            sigma = np.sqrt(var_s / 10 ** (snr / 10))
            # E|s + σn| given s, in closed form (folded normal mean).
            a = np.abs(s)
            fold = sigma * np.sqrt(2 / np.pi) * np.exp(-(a**2) / (2 * sigma**2)) + a * erf(a / (sigma * np.sqrt(2)))
            e_abs[i] += fold.sum()
            e_log[i] += np.log(np.abs(s + sigma * g)).sum()
    total = m * chunks
    G = np.log(e_abs / total) - e_log / total
    assert np.all(np.diff(G) > 0), "table is not monotone; use more samples"
    print("// SNR −20 … +100 dB in 1 dB steps")
    print("[" + ", ".join(f"{v:.6f}" for v in G) + "]")


if __name__ == "__main__":
    main()
