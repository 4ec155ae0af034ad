"""Audible label (GB 45438 §5.3 note 1): the rhythm "短长短短", Morse ·− ·· for "AI", at the start.

Timing follows Morse convention so the rhythm is unambiguous: dot = 1 unit, dash = 3 units, 1 unit
between the elements of a letter, 3 units between the letters. With a 100 ms unit the cue lasts
1.2 s, then 0.4 s of silence before the content. The tone is 1 kHz with 5 ms ramps (no clicks).
`detect_cue` finds the pattern again in decoded audio, so verification and tests can check it.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from hegui.labels.aigc import LabelError
from hegui.labels.formats.ffmedia import ffmpeg_exe, run_ffmpeg

UNIT_S = 0.1
TONE_HZ = 1000.0
GAP_AFTER_S = 0.4
# (on?, units): · gap − gap³ · gap ·
PATTERN: tuple[tuple[bool, int], ...] = (
    (True, 1),
    (False, 1),
    (True, 3),
    (False, 3),
    (True, 1),
    (False, 1),
    (True, 1),
)
_CODECS = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".flac": "flac", ".m4a": "aac", ".mp4": "aac",
           ".ogg": "libvorbis", ".oga": "libvorbis", ".opus": "libopus"}  # fmt: skip
_AUDIO = re.compile(r"Audio: [^,]+, (\d+) Hz, ([^,]+)")


def cue(sample_rate: int = 48000, amplitude: float = 0.5) -> np.ndarray:
    """The "短长短短" cue plus trailing silence, float32 mono in [-1, 1]."""
    parts = []
    ramp = int(0.005 * sample_rate)
    for on, units in PATTERN:
        n = round(units * UNIT_S * sample_rate)
        if on:
            t = np.arange(n) / sample_rate
            s = amplitude * np.sin(2 * np.pi * TONE_HZ * t)
            env = np.ones(n)
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] = np.linspace(1, 0, ramp)
            parts.append(s * env)
        else:
            parts.append(np.zeros(n))
    parts.append(np.zeros(int(GAP_AFTER_S * sample_rate)))
    return np.concatenate(parts).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def _probe_audio(path: Path) -> tuple[int, str]:
    p = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, timeout=60
    )
    m = _AUDIO.search(p.stderr.decode("utf-8", "replace"))
    if not m:
        raise LabelError("no audio stream found (not audio, or a truncated file)")
    layout = m.group(2).strip()
    return int(m.group(1)), (
        "mono" if layout == "1 channels" else "stereo" if layout == "2 channels" else layout
    )


def label_audio_file(src: Path, dst: Path) -> None:
    """Write ``src`` with the rhythm cue before its content to ``dst`` (format from the suffix)."""
    codec = _CODECS.get(dst.suffix.lower())
    if codec is None:
        raise LabelError(f"audible labels are not supported for {dst.suffix or 'files without a suffix'}")
    rate, layout = _probe_audio(src)
    with tempfile.TemporaryDirectory(prefix="hegui-audio-") as tmp:
        c = Path(tmp) / "cue.wav"
        write_wav(c, cue(rate), rate)
        run_ffmpeg([
            "-i", str(c), "-i", str(src),
            "-filter_complex",
            f"[0:a]aformat=sample_rates={rate}:channel_layouts={layout}[c];"
            f"[1:a]aformat=sample_rates={rate}:channel_layouts={layout}[a];[c][a]concat=n=2:v=0:a=1[out]",
            "-map", "[out]", "-c:a", codec, "-y", str(dst),
        ])  # fmt: skip


def decode_start(path: Path, seconds: float = 3.0, sample_rate: int = 16000) -> np.ndarray:
    """The first ``seconds`` of any audio file as float32 mono (via ffmpeg)."""
    raw = run_ffmpeg(
        ["-i", str(path), "-t", f"{seconds}", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    )
    return np.frombuffer(raw, dtype="<f4")


def on_segments(samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """(start, duration) in seconds of the tone bursts, from a 10 ms RMS envelope."""
    hop = max(1, int(0.01 * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return []
    env = np.sqrt((samples[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    peak = float(env.max())
    if peak < 1e-3:
        return []
    on = env > 0.3 * peak
    segs, start = [], None
    for i, v in enumerate([*on, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            segs.append((start * hop / sample_rate, (i - start) * hop / sample_rate))
            start = None
    return segs


def detect_cue(samples: np.ndarray, sample_rate: int) -> bool:
    """True when the audio starts with short-long-short-short bursts in Morse proportions."""
    segs = on_segments(samples, sample_rate)[:4]
    if len(segs) < 4:
        return False
    d = [s[1] for s in segs]
    unit = (d[0] + d[2] + d[3]) / 3
    if unit <= 0:
        return False
    ratios = [x / unit for x in d]
    return 0.6 < ratios[0] < 1.5 and 2.2 < ratios[1] < 3.8 and 0.6 < ratios[2] < 1.5 and 0.6 < ratios[3] < 1.5
