"""Pick the point cloud source of a path."""
import os
import os.path as osp
from typing import Optional, Sequence, Union

from .base import POINT_SOURCES, PointCloudSource, SourceFormatError
from .rosbag import is_bag

PathLike = Union[str, os.PathLike]

#: The folder source of each scan file suffix.
SUFFIX_SOURCES = {'.bin': 'BinFolderSource', '.pcd': 'PCDFolderSource',
                  '.ply': 'PLYFolderSource', '.npy': 'NumpyFolderSource',
                  '.npz': 'NumpyFolderSource'}


def build_source(path: Union[PathLike, Sequence[PathLike]],
                 topic: Optional[str] = None,
                 scan_rate: float = 10.0,
                 intensity_field: Optional[str] = None) -> PointCloudSource:
    """The source of a recording.

    Args:
        path: A ROS1 ``.bag``, a ROS2 bag folder (or its ``.db3`` /
            ``.mcap``), a folder of scans of one kind (``.bin``, ``.pcd``,
            ``.ply``, ``.npy``/``.npz``; a KITTI sequence folder with
            ``velodyne/``), one scan file, or a list of scan files of one
            kind.
        topic: PointCloud2 topic of a bag (``None``: its only one).
        scan_rate: Scans a second [Hz] of scan files without ``times.txt``.
        intensity_field: The intensity field to read first.

    Returns:
        PointCloudSource: Built from :data:`POINT_SOURCES`.

    Raises:
        FileNotFoundError: Nothing at ``path``.
        SourceFormatError: No scans, several kinds of scans in one folder,
            or an unknown suffix.
    """
    if not isinstance(path, (str, os.PathLike)):
        paths = [os.fspath(p) for p in path]
        if len(paths) == 1:
            return build_source(paths[0], topic, scan_rate, intensity_field)
        kinds = {SUFFIX_SOURCES.get(osp.splitext(p)[1].lower()) for p in paths}
        if len(kinds) != 1 or None in kinds:
            raise SourceFormatError(
                f'scan files must be of one kind ({", ".join(SUFFIX_SOURCES)}'
                f'), got {sorted({osp.splitext(p)[1] for p in paths})}')
        return POINT_SOURCES.build(dict(
            type=kinds.pop(), path=paths, scan_rate=scan_rate,
            intensity_field=intensity_field))
    path = os.fspath(path)
    if not osp.exists(path):
        raise FileNotFoundError(f'no recording at {path}')
    if is_bag(path):
        return POINT_SOURCES.build(dict(type='RosbagSource', path=path,
                                        topic=topic,
                                        intensity_field=intensity_field))
    if topic is not None:
        raise SourceFormatError(f'{path}: --topic is for ROS bags only')
    if osp.isdir(path):
        folder = osp.join(path, 'velodyne') \
            if osp.isdir(osp.join(path, 'velodyne')) else path
        kinds = sorted({SUFFIX_SOURCES[osp.splitext(n)[1].lower()]
                        for n in os.listdir(folder)
                        if osp.splitext(n)[1].lower() in SUFFIX_SOURCES})
        if not kinds:
            raise SourceFormatError(
                f'{folder}: no scans ({", ".join(SUFFIX_SOURCES)}) and not a '
                f'ROS2 bag (no metadata.yaml)')
        if len(kinds) > 1:
            raise SourceFormatError(
                f'{folder}: holds scans of several kinds ({", ".join(kinds)}'
                f'); give a folder of one kind')
        kind = kinds[0]
    else:
        kind = SUFFIX_SOURCES.get(osp.splitext(path)[1].lower())
        if kind is None:
            raise SourceFormatError(
                f'{path}: unknown scan format (known: '
                f'{", ".join(SUFFIX_SOURCES)}, .bag, .db3, .mcap)')
    return POINT_SOURCES.build(dict(type=kind, path=path, scan_rate=scan_rate,
                                    intensity_field=intensity_field))
