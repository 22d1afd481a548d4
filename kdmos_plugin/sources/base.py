"""The point cloud source abstraction and its registry.

A source is an iterable of :class:`Frame` s in recording order: a timestamp
[s], the points of one scan (N, 4) float32 x, y, z [m], intensity as the
sensor reported it (``NaN`` where the recording has no intensity field; the
:class:`~kdmos_plugin.sources.SensorProfile` says what to feed instead),
and the pose if the recording holds one. Sources are registered in
:data:`POINT_SOURCES` by name, so that configs and tools can name them::

    source = POINT_SOURCES.build(dict(type='PCDFolderSource', path='scans/'))
    for frame in source:
        frame.timestamp, frame.points, frame.pose, frame.name

:func:`build_source` picks the source of a path (a folder of scans, one
scan file, a ROS1 ``.bag``, a ROS2 bag folder or ``.db3`` / ``.mcap``).
"""
import os
import os.path as osp
import re
from typing import Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.registry import Registry

PathLike = Union[str, os.PathLike]

#: The point cloud sources, by class name (``type=`` in a config).
POINT_SOURCES = Registry('point cloud source')


class SourceFormatError(ValueError):
    """A recording is malformed; the message names the file (and the topic
    and message index of a bag)."""


class Frame(NamedTuple):
    """One scan of a recording.

    Attributes:
        timestamp: Time of the scan [s] (recording clock, or index / scan
            rate when the recording has none).
        points: (N, 4) float32 x, y, z [m], raw intensity (NaN = none).
        pose: (4, 4) float64 LiDAR pose in the recording's world frame, or
            None.
        name: Output name of the scan (file stem, or 6-digit index).
    """
    timestamp: float
    points: np.ndarray
    pose: Optional[np.ndarray]
    name: str


class PointCloudSource:
    """Base class: a recording of scans.

    Subclasses implement :meth:`__len__` and :meth:`__iter__` and set
    :attr:`path`.
    """

    path: str = ''

    def __len__(self) -> int:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def describe(self, index: int) -> str:
        """Where scan ``index`` comes from, for messages."""
        return f'{self.path}: scan {index}'

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.path!r}, {len(self)} scans)'


def natural_key(text: str) -> list:
    """Sort key that orders numbers by value: ``scan2 < scan10``."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r'(\d+)', text)]


def natural_sorted(names: Sequence[str]) -> List[str]:
    """``names`` in natural order (numbers by value, not as strings)."""
    return sorted(names, key=natural_key)


def check_timestamps(stamps: Sequence[float], where: str,
                     labels: Optional[Sequence[str]] = None) -> None:
    """Raise if timestamps are not strictly increasing.

    Args:
        stamps: The timestamps [s] in recording order.
        where: The file (and topic) for the message.
        labels: What to call entry ``i`` (default ``message i``).

    Raises:
        SourceFormatError: Naming the first entry whose time is not after
            the previous one.
    """
    for i in range(1, len(stamps)):
        if not stamps[i] > stamps[i - 1]:
            what = labels[i] if labels is not None else f'message {i}'
            raise SourceFormatError(
                f'{where}: timestamps out of order at {what}: '
                f'{stamps[i]:.6f} s is not after {stamps[i - 1]:.6f} s')


#: Field names tried for x, y, z and the intensity, after the profile's.
INTENSITY_NAMES = ('intensity', 'reflectivity', 'remission', 'reflectance',
                   'i')


def points_from_fields(fields, where: str,
                       intensity_field: Optional[str] = None) -> np.ndarray:
    """Assemble (N, 4) points from named per-point fields.

    Args:
        fields: Mapping (or numpy structured array) of field name -> (N,)
            values of any numeric dtype, in any order.
        where: The file (and message) for error messages.
        intensity_field: The field to read the intensity from first; then
            :data:`INTENSITY_NAMES` are tried. None of them: the intensity
            column is NaN (the sensor profile fills it).

    Returns:
        np.ndarray: (N, 4) float32 x, y, z, intensity (raw values).

    Raises:
        SourceFormatError: x, y or z missing (the fields present are
            listed), or fields of different lengths.
    """
    names = list(fields.dtype.names) if isinstance(fields, np.ndarray) \
        else list(fields)
    missing = [axis for axis in 'xyz' if axis not in names]
    if missing:
        raise SourceFormatError(
            f'{where}: no field {", ".join(missing)} (fields: '
            f'{", ".join(names) or "none"})')
    n = len(fields['x'])
    out = np.empty((n, 4), dtype=np.float32)
    for col, axis in enumerate('xyz'):
        values = np.asarray(fields[axis]).reshape(-1)
        if len(values) != n:
            raise SourceFormatError(
                f'{where}: field {axis} holds {len(values)} values, x holds '
                f'{n}')
        out[:, col] = values
    wanted = [intensity_field] if intensity_field else []
    for name in [*wanted, *INTENSITY_NAMES]:
        if name in names:
            values = np.asarray(fields[name]).reshape(-1)
            if len(values) != n:
                raise SourceFormatError(
                    f'{where}: field {name} holds {len(values)} values for '
                    f'{n} points')
            out[:, 3] = values
            break
    else:
        out[:, 3] = np.nan
    return out
