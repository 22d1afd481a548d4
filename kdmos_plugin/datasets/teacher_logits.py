"""Offline teacher-logit files: layout, manifest, atomic writes.

The file format belongs with the data: ``LoadTeacherLogits`` reads it, the
dump loop (:func:`kdmos_plugin.apis.teacher_logits.dump_teacher_logits`)
and external teachers write it. Layout (see docs/TEACHER_LOGITS.md)::

    <root>/teacher_logits_manifest.json
    <root>/sequences/<seq>/teacher_logits/<frame:06d>.npy   (N, C) raw logits

Rows are the current scan's points in ``.bin`` file order; columns follow
the manifest's ``classes``. Files are keyed by (sequence, frame id), never
by a position in a filtered list (docs/METHOD.md §7.2).
"""
import hashlib
import json
import os.path as osp
from typing import Sequence

import numpy as np

from ..utils.atomic_files import atomic_path, write_text_atomic

#: Version of the on-disk format described in docs/TEACHER_LOGITS.md.
FORMAT_VERSION = 1
#: Manifest file name, at the root of a logits directory.
MANIFEST_NAME = 'teacher_logits_manifest.json'
#: Keys every manifest holds.
MANIFEST_KEYS = ('classes', 'num_classes', 'config', 'checkpoint_sha256',
                 'dtype', 'format_version')
_DTYPES = ('float32', 'float16')


def logits_path(root: str, sequence: str, frame_id: int) -> str:
    """Path of one frame's logits file.

    Args:
        root (str): Logits directory.
        sequence (str): Sequence name, e.g. ``'08'``.
        frame_id (int): Frame number (the ``.bin`` file stem).

    Returns:
        str: ``<root>/sequences/<sequence>/teacher_logits/<frame:06d>.npy``.
    """
    return osp.join(root, 'sequences', str(sequence), 'teacher_logits',
                    f'{int(frame_id):06d}.npy')


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def make_manifest(classes: Sequence[str], config: str,
                  checkpoint_sha256: str, dtype: str = 'float32') -> dict:
    """The manifest of a logits directory.

    Args:
        classes (Sequence[str]): Class names in column order.
        config (str): Name of the teacher config (file name).
        checkpoint_sha256 (str): SHA-256 of the teacher checkpoint.
        dtype (str): ``'float32'`` or ``'float16'``.

    Returns:
        dict: Keys :data:`MANIFEST_KEYS`.
    """
    if dtype not in _DTYPES:
        raise ValueError(f'teacher logits dtype must be one of {_DTYPES}, '
                         f'got {dtype!r}')
    return dict(
        classes=list(classes),
        num_classes=len(classes),
        config=str(config),
        checkpoint_sha256=str(checkpoint_sha256),
        dtype=dtype,
        format_version=FORMAT_VERSION)


def read_manifest(root: str) -> dict:
    """Read and check ``<root>/teacher_logits_manifest.json``.

    Raises:
        FileNotFoundError: No manifest.
        ValueError: Malformed manifest (the message names the file).
    """
    path = osp.join(root, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no teacher-logits manifest: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:  # JSON only: a manifest is data (a pickle here is never loaded)
        manifest = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from None
    if not isinstance(manifest, dict):
        raise ValueError(f'{path}: not a manifest (a JSON '
                         f'{type(manifest).__name__}, not an object)')
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise ValueError(f'{path}: manifest lacks keys {missing}')
    if manifest['num_classes'] != len(manifest['classes']):
        raise ValueError(f'{path}: num_classes={manifest["num_classes"]} but '
                         f'{len(manifest["classes"])} class names')
    if manifest['dtype'] not in _DTYPES:
        raise ValueError(f'{path}: dtype {manifest["dtype"]!r} is not one '
                         f'of {_DTYPES}')
    if manifest['format_version'] != FORMAT_VERSION:
        raise ValueError(f'{path}: format_version '
                         f'{manifest["format_version"]}, this code reads '
                         f'{FORMAT_VERSION}')
    return manifest


def prepare_output_dir(root: str, manifest: dict) -> None:
    """Create ``root`` with ``manifest``, or check an existing one matches.

    A directory that already holds logits files but no manifest, or whose
    manifest differs in any key, is refused, so that logits of two teachers
    (or two dtypes) never mix.

    Raises:
        ValueError: The existing manifest differs (names the keys), or the
            directory holds ``sequences/`` without a manifest.
    """
    path = osp.join(root, MANIFEST_NAME)
    if osp.isfile(path):
        old = read_manifest(root)
        diff = {k: (old.get(k), manifest[k]) for k in MANIFEST_KEYS
                if old.get(k) != manifest[k]}
        if diff:
            lines = ', '.join(f'{k}: {a!r} (on disk) != {b!r} (this run)'
                              for k, (a, b) in diff.items())
            raise ValueError(
                f'{path} does not match this run ({lines}); write to a new '
                'directory or remove the old logits')
        return
    if osp.isdir(osp.join(root, 'sequences')):
        raise ValueError(f'{root} holds sequences/ but no {MANIFEST_NAME}: '
                         'refusing to mix logits of unknown origin')
    write_text_atomic(path, json.dumps(manifest, indent=2))


def save_logits(path: str, logits: np.ndarray, dtype: str) -> None:
    """Write one (N, C) logits array atomically (temp file, then rename)."""
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f'{path}: logits must be (N, C), got '
                         f'{logits.shape}')
    with atomic_path(path, suffix='.npy') as tmp:
        np.save(tmp, logits.astype(dtype, copy=False))
