"""Synthetic natural-looking test images for the watermark tests and bench.

No photos can be shipped in the repository, and watermark robustness measured on flat colours or
white noise says nothing: natural images have a 1/f power spectrum, edges and smooth regions. These
images have all three (1/f colour noise, a sky-like gradient, random filled ellipses with soft
edges), deterministically from a seed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def natural_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An H×W×3 uint8 image with natural-image statistics (1/f spectrum, edges, smooth areas)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    chans = []
    for _ in range(3):
        spec = (rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))) / f**1.1
        spec[0, 0] = 0
        n = np.real(np.fft.ifft2(spec))
        chans.append(n / (n.std() + 1e-9))
    noise = np.stack(chans, -1)
    noise = 0.6 * noise + 0.4 * noise.mean(-1, keepdims=True)  # correlated colour, like photos
    grad = np.linspace(0, 1, height)[:, None, None] * rng.uniform(-60, 60, 3)
    base = 120 + rng.uniform(-30, 30, 3) + grad + 28 * noise
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(12):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.03, 0.25) * width, rng.uniform(0.03, 0.25) * height
        col = (*tuple(int(c) for c in rng.integers(20, 235, 3)), int(rng.integers(120, 230)))
        d.ellipse([x - rx, y - ry, x + rx, y + ry], fill=col)
    layer = layer.filter(ImageFilter.GaussianBlur(radius=max(1.0, width / 700)))
    im = Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")
    arr = np.asarray(im).astype(np.float64) + 6 * noise  # texture on the shapes too
    return np.clip(arr, 0, 255).astype(np.uint8)
