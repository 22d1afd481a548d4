"""Reading and writing PCL ``.pcd`` files (``DATA ascii`` and ``binary``).

The format: a text header of ``KEY values`` lines, then the data::

    VERSION 0.7
    FIELDS x y z intensity         any names, any order
    SIZE 4 4 4 4                   bytes a value: 1, 2, 4 or 8
    TYPE F F F F                   F float, I signed, U unsigned integer
    COUNT 1 1 1 1                  values a field (optional, default 1)
    WIDTH 1000
    HEIGHT 1
    VIEWPOINT 0 0 0 1 0 0 0        (optional)
    POINTS 1000                    (optional, default WIDTH * HEIGHT)
    DATA binary                    ascii | binary | binary_compressed

``binary`` stores the points as packed little-endian records in field order;
``ascii`` one line a point. ``binary_compressed`` (LZF, column-major) is
refused with a message saying how to convert the file.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple, Union

import numpy as np

from ..utils.atomic_files import atomic_path
from .base import SourceFormatError

PathLike = Union[str, os.PathLike]

_TYPES = {('F', 4): '<f4', ('F', 8): '<f8', ('I', 1): 'i1', ('I', 2): '<i2',
          ('I', 4): '<i4', ('I', 8): '<i8', ('U', 1): 'u1', ('U', 2): '<u2',
          ('U', 4): '<u4', ('U', 8): '<u8'}
_HEADER_KEYS = ('VERSION', 'FIELDS', 'SIZE', 'TYPE', 'COUNT', 'WIDTH',
                'HEIGHT', 'VIEWPOINT', 'POINTS', 'DATA')
_MAX_HEADER_LINES = 64


def _parse_header(path: str, raw: bytes) -> Tuple[Dict[str, List[str]], int]:
    """Header fields and the byte offset where the data starts."""
    header: Dict[str, List[str]] = {}
    offset = 0
    for _ in range(_MAX_HEADER_LINES):
        end = raw.find(b'\n', offset)
        if end < 0:
            break
        line = raw[offset:end].decode('ascii', errors='replace').strip()
        offset = end + 1
        if not line or line.startswith('#'):
            continue
        key, *values = line.split()
        if key.upper() not in _HEADER_KEYS:
            raise SourceFormatError(
                f'{path}: not a PCD file (unknown header line {line[:60]!r})')
        header[key.upper()] = values
        if key.upper() == 'DATA':
            return header, offset
    raise SourceFormatError(f'{path}: not a PCD file (no DATA line in the '
                            f'header)')


def _dtype(path: str, header: Dict[str, List[str]]) -> np.dtype:
    for key in ('FIELDS', 'SIZE', 'TYPE'):
        if key not in header:
            raise SourceFormatError(f'{path}: PCD header has no {key} line')
    names, sizes, types = header['FIELDS'], header['SIZE'], header['TYPE']
    counts = header.get('COUNT', ['1'] * len(names))
    if not len(names) == len(sizes) == len(types) == len(counts):
        raise SourceFormatError(
            f'{path}: PCD header FIELDS ({len(names)}), SIZE ({len(sizes)}), '
            f'TYPE ({len(types)}) and COUNT ({len(counts)}) differ in length')
    spec = []
    for name, size, kind, count in zip(names, sizes, types, counts):
        try:
            code = _TYPES[(kind.upper(), int(size))]
            count = int(count)
        except (KeyError, ValueError):
            raise SourceFormatError(
                f'{path}: field {name!r} has an unknown TYPE {kind} / SIZE '
                f'{size} / COUNT {count}') from None
        if name in {s[0] for s in spec}:
            name = f'{name}_{len(spec)}'  # PCL pads with repeated '_'
        spec.append((name, code) if count == 1 else (name, code, (count, )))
    return np.dtype(spec)


def _int(path: str, header: dict, key: str, default=None) -> int:
    if key not in header:
        if default is None:
            raise SourceFormatError(f'{path}: PCD header has no {key} line')
        return default
    try:
        value = int(header[key][0])
    except (IndexError, ValueError):
        raise SourceFormatError(
            f'{path}: PCD header {key} is not a number: {header[key]}') \
            from None
    if value < 0:
        raise SourceFormatError(f'{path}: PCD header {key} is negative')
    return value


def read_pcd(path: PathLike) -> np.ndarray:
    """Read a ``.pcd`` file.

    Args:
        path: The file (``DATA ascii`` or ``binary``).

    Returns:
        np.ndarray: (N,) structured array, one named field per PCD field
        (fields with COUNT > 1 as sub-arrays), in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        SourceFormatError: A malformed header, truncated data, a line with
            the wrong number of values, or ``binary_compressed`` data.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'PCD file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    header, offset = _parse_header(path, raw)
    dtype = _dtype(path, header)
    width = _int(path, header, 'WIDTH')
    height = _int(path, header, 'HEIGHT', 1)
    num = _int(path, header, 'POINTS', width * height)
    data = header['DATA'][0].lower() if header['DATA'] else ''
    if data == 'binary':
        need = num * dtype.itemsize
        if len(raw) - offset < need:
            raise SourceFormatError(
                f'{path}: binary data holds {len(raw) - offset} bytes, the '
                f'header promises {num} points of {dtype.itemsize} bytes '
                f'({need}); the file is truncated')
        return np.frombuffer(raw, dtype=dtype, count=num,
                             offset=offset).copy()
    if data == 'ascii':
        columns = sum(int(np.prod(dtype[name].shape) or 1)
                      for name in dtype.names)
        values = raw[offset:].decode('ascii', errors='replace').split()
        try:
            table = np.array(values, dtype=np.float64)
        except ValueError as err:
            raise SourceFormatError(f'{path}: ascii data holds a value that '
                                    f'is not a number ({err})') from None
        if table.size != num * columns:
            raise SourceFormatError(
                f'{path}: ascii data holds {table.size} values, the header '
                f'promises {num} points of {columns} values')
        table = table.reshape(num, columns)
        out = np.empty(num, dtype=dtype)
        col = 0
        for name in dtype.names:
            width_ = int(np.prod(dtype[name].shape) or 1)
            part = table[:, col:col + width_]
            out[name] = part[:, 0] if dtype[name].shape == () else part
            col += width_
        return out
    if data == 'binary_compressed':
        raise SourceFormatError(
            f'{path}: DATA binary_compressed (LZF) is not supported; convert '
            f'the file to binary or ascii first (e.g. PCL\'s '
            f'pcl_convert_pcd_ascii_binary FILE OUT 1)')
    raise SourceFormatError(f'{path}: unknown PCD DATA kind {data!r}')


def write_pcd(path: PathLike, points: np.ndarray,
              data: str = 'binary') -> None:
    """Write a ``.pcd`` file atomically.

    Args:
        path: Output file; parent folders are created.
        points: (N,) structured array of numeric fields (written in its
            field order), or an (N, 4) array written as float32 x y z
            intensity.
        data: ``'binary'`` or ``'ascii'``.
    """
    if data not in ('binary', 'ascii'):
        raise ValueError(f"data must be 'binary' or 'ascii', got {data!r}")
    points = np.asarray(points)
    if points.dtype.names is None:
        if points.ndim != 2 or points.shape[1] != 4:
            raise ValueError(f'{path}: expected (N, 4) points or a '
                             f'structured array, got {points.shape}')
        table = points.astype(np.float32)
        points = np.empty(len(table), dtype=[
            (k, '<f4') for k in ('x', 'y', 'z', 'intensity')])
        for col, name in enumerate(points.dtype.names):
            points[name] = table[:, col]
    names, sizes, types, fmts = [], [], [], []
    for name in points.dtype.names:
        dt = points.dtype[name]
        if dt.shape != () or dt.kind not in 'fiu':
            raise ValueError(f'{path}: field {name} is not a numeric scalar')
        names.append(name)
        sizes.append(str(dt.itemsize))
        types.append(dict(f='F', i='I', u='U')[dt.kind])
        fmts.append(('%.9g' if dt.itemsize == 4 else '%.17g')
                    if dt.kind == 'f' else '%d')
    n = len(points)
    head = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
            f'FIELDS {" ".join(names)}\nSIZE {" ".join(sizes)}\n'
            f'TYPE {" ".join(types)}\nCOUNT {" ".join("1" for _ in names)}\n'
            f'WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\n'
            f'DATA {data}\n')
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(head.encode('ascii'))
        if data == 'binary':
            little = points.astype(points.dtype.newbyteorder('<'))
            f.write(np.ascontiguousarray(little).tobytes())
        else:
            fmt = ' '.join(fmts) + '\n'
            for row in points:
                f.write((fmt % tuple(row[name].item() for name in names)
                         ).encode('ascii'))
