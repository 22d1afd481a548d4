"""Animated pictures (GIF) of a recording's BEV frames."""
import os
from typing import Sequence

import numpy as np

from ..utils.atomic_files import atomic_path


def add_caption(image: np.ndarray, text: str, scale: float = 0.45
                ) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 picture with ``text`` in its top-left
    corner (white, anti-aliased)."""
    import cv2
    out = np.ascontiguousarray(image.copy())
    cv2.putText(out, text, (6, int(18 * scale / 0.45)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def save_gif(path: str, frames: Sequence[np.ndarray], fps: float = 10.0,
             loop: int = 0) -> str:
    """Write (H, W, 3) uint8 RGB frames as an animated GIF, atomically.

    Args:
        path: Output file (folders are created).
        frames: Pictures of one shape.
        fps: Frames a second.
        loop: Times to loop (0 = for ever).

    Returns:
        str: The path.

    Raises:
        ValueError: No frames, or frames of different shapes or types.
    """
    import imageio.v2 as imageio
    if not frames:
        raise ValueError(f'{path}: no frames to animate')
    shape = frames[0].shape
    for k, frame in enumerate(frames):
        if frame.shape != shape or frame.dtype != np.uint8 or \
                frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f'{path}: frame {k} is {frame.shape} {frame.dtype}, expected '
                f'{shape} uint8 RGB like frame 0')
    path = os.fspath(path)
    with atomic_path(path, suffix='.gif') as tmp:
        imageio.mimsave(tmp, list(frames), duration=1000.0 / fps, loop=loop)
    return path
