"""Atomic output files: written beside the target, then renamed onto it.

The project's outputs (labels, poses, logits, info files, reports, ONNX
files, pictures) go through :func:`atomic_path` or its two shorthands, so a
reader never sees a half-written file, and an error while writing leaves the
old file (or none) and no temporary one::

    with atomic_path('out/scan.label') as tmp:   # out/ is created
        write_something(tmp)                     # -> out/scan.label.tmp<pid>
    # now os.replace(tmp, 'out/scan.label')

The temporary name is ``<path>.tmp<pid><suffix>`` in the target's folder
(the same file system, so the rename is atomic); ``tools/test.py`` claims
the submission's ``*.tmp*`` names through it.
"""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


@contextmanager
def atomic_path(path: PathLike, suffix: str = '') -> Iterator[str]:
    """A temporary path that replaces ``path`` when the block succeeds.

    Args:
        path: The file to write; its parent folders are created.
        suffix: Appended to the temporary name, for writers that add or
            need an extension (``np.save``: ``'.npy'``; imageio: ``'.gif'``).

    Yields:
        str: Where to write. On an exception it is removed and ``path`` is
        left as it was.
    """
    path = os.fspath(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}{suffix}'
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    write_bytes_atomic(path, text.encode('utf-8'))
