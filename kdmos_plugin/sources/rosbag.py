"""``sensor_msgs/PointCloud2`` scans from ROS1 ``.bag`` and ROS2 bags.

Read with the pure-Python ``rosbags`` package (no ROS installation): a ROS1
``.bag`` file, or a ROS2 bag folder (``metadata.yaml`` beside its ``.db3``
or ``.mcap`` storage; giving the storage file picks its folder). The fields
of a PointCloud2 may come in any order and in any of its numeric types
(float32 / float64 / uint8 / uint16 / ... intensity); organised clouds
(``height > 1``) and padded rows (``row_step > width * point_step``) are
read in row order. The scan's time is its header stamp (the bag's receive
time when the stamp is 0).

Every bad input stops with a :class:`SourceFormatError` naming the bag, the
topic and the message index: an unknown topic, a topic of another type, a
missing x / y / z field, an empty or truncated message, timestamps out of
order.
"""
import os
import os.path as osp
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from .base import (POINT_SOURCES, Frame, PointCloudSource, SourceFormatError,
                   points_from_fields)

PathLike = Union[str, os.PathLike]

#: The message type read, as rosbags names it for ROS1 and ROS2.
POINTCLOUD2 = 'sensor_msgs/msg/PointCloud2'
#: numpy type of each ``sensor_msgs/PointField`` datatype.
POINTFIELD_TYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4',
                    7: 'f4', 8: 'f8'}


def resolve_bag_path(path: PathLike) -> Path:
    """The path ``rosbags`` opens: a ``.bag`` file, or a ROS2 bag folder.

    Raises:
        FileNotFoundError: Nothing at ``path``.
        SourceFormatError: A ``.db3`` / ``.mcap`` file without the
            ``metadata.yaml`` of its bag beside it, or a folder without one.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f'ROS bag not found: {path}')
    if path.is_file() and path.suffix == '.bag':
        return path
    folder = path if path.is_dir() else path.parent
    if path.is_dir() or path.suffix in ('.db3', '.mcap'):
        if (folder / 'metadata.yaml').is_file():
            return folder
        raise SourceFormatError(
            f'{path}: a ROS2 bag is a folder holding metadata.yaml beside '
            f'its .db3 / .mcap storage; {folder} has no metadata.yaml')
    raise SourceFormatError(f'{path}: not a ROS bag (.bag file, or a ROS2 '
                            f'bag folder / .db3 / .mcap)')


def pointcloud2_to_points(msg, where: str,
                          intensity_field: Optional[str] = None
                          ) -> np.ndarray:
    """Decode one ``sensor_msgs/PointCloud2`` message.

    Args:
        msg: The message as ``rosbags`` deserialises it (``fields``,
            ``width``, ``height``, ``point_step``, ``row_step``,
            ``is_bigendian``, ``data``).
        where: The bag, topic and message index, for errors.
        intensity_field: The intensity field to read first.

    Returns:
        np.ndarray: (width * height, 4) float32 x, y, z [m], raw intensity
        (NaN without an intensity field), in row order.

    Raises:
        SourceFormatError: Empty message, unknown field type, a field
            outside the point, truncated data, missing x / y / z.
    """
    num = int(msg.width) * int(msg.height)
    data = np.frombuffer(memoryview(msg.data), dtype=np.uint8)
    if num == 0 or data.size == 0:
        raise SourceFormatError(
            f'{where}: empty message ({msg.width} x {msg.height} points, '
            f'{data.size} bytes of data)')
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for field in msg.fields:
        if field.datatype not in POINTFIELD_TYPES:
            raise SourceFormatError(
                f'{where}: field {field.name!r} has unknown datatype '
                f'{field.datatype}')
        if field.name in names:
            raise SourceFormatError(f'{where}: field {field.name!r} is '
                                    f'listed twice')
        kind = np.dtype(POINTFIELD_TYPES[field.datatype]).newbyteorder(order)
        count = max(int(field.count), 1)
        fmt = kind if count == 1 else np.dtype((kind, (count, )))
        if field.offset + fmt.itemsize > msg.point_step:
            raise SourceFormatError(
                f'{where}: field {field.name!r} (offset {field.offset}, '
                f'{fmt.itemsize} bytes) lies outside the {msg.point_step}-'
                f'byte point')
        names.append(field.name)
        formats.append(fmt)
        offsets.append(int(field.offset))
    dtype = np.dtype(dict(names=names, formats=formats, offsets=offsets,
                          itemsize=int(msg.point_step)))
    row_bytes = int(msg.width) * int(msg.point_step)
    row_step = max(int(msg.row_step), row_bytes)
    need = (int(msg.height) - 1) * row_step + row_bytes
    if data.size < need:
        raise SourceFormatError(
            f'{where}: data holds {data.size} bytes, {msg.width} x '
            f'{msg.height} points of {msg.point_step} bytes need {need}; the '
            f'message is truncated')
    if row_step == row_bytes:
        packed = data[:num * int(msg.point_step)]
    else:  # drop the padding at the end of every row
        rows = [data[r * row_step:r * row_step + row_bytes]
                for r in range(int(msg.height))]
        packed = np.concatenate(rows)
    cloud = np.frombuffer(packed.tobytes(), dtype=dtype, count=num)
    return points_from_fields(cloud, where, intensity_field)


def _stamp(msg, bag_time_ns: int) -> float:
    stamp = getattr(getattr(msg, 'header', None), 'stamp', None)
    if stamp is not None and (stamp.sec or stamp.nanosec):
        return stamp.sec + stamp.nanosec * 1e-9
    return bag_time_ns * 1e-9


@POINT_SOURCES.register_module()
class RosbagSource(PointCloudSource):
    """PointCloud2 scans of one topic of a ROS1 or ROS2 bag.

    Args:
        path: ``.bag`` file, ROS2 bag folder, or its ``.db3`` / ``.mcap``.
        topic: The PointCloud2 topic; ``None`` = the only one in the bag.
        intensity_field: The intensity field to read first.

    Raises:
        SourceFormatError: Not a bag, unknown topic (the PointCloud2 topics
            are listed), a topic of another type, or several PointCloud2
            topics and none chosen.
    """

    def __init__(self,
                 path: PathLike,
                 topic: Optional[str] = None,
                 intensity_field: Optional[str] = None) -> None:
        self.path = os.fspath(path)
        self.bag = resolve_bag_path(path)
        self.intensity_field = intensity_field
        with self._reader() as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            clouds = sorted(t for t, m in topics.items() if m == POINTCLOUD2)
            listing = ', '.join(f'{t} ({m})' for t, m in sorted(
                topics.items())) or 'none'
            if topic is None:
                if len(clouds) != 1:
                    raise SourceFormatError(
                        f'{self.path}: {len(clouds)} PointCloud2 topics '
                        f'({", ".join(clouds) or "none"}); choose one with '
                        f'--topic (topics: {listing})')
                topic = clouds[0]
            elif topic not in topics:
                raise SourceFormatError(
                    f'{self.path}: no topic {topic!r} (PointCloud2 topics: '
                    f'{", ".join(clouds) or "none"}; all topics: {listing})')
            elif topics[topic] != POINTCLOUD2:
                raise SourceFormatError(
                    f'{self.path}: topic {topic!r} holds {topics[topic]}, '
                    f'not {POINTCLOUD2}')
            self.topic = topic
            self.num = sum(c.msgcount for c in reader.connections
                           if c.topic == topic)

    @contextmanager
    def _reader(self):
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.typesys import Stores, get_typestore
        try:
            reader = AnyReader(
                [self.bag],
                default_typestore=get_typestore(Stores.ROS2_HUMBLE))
            reader.open()
        except (AnyReaderError, ValueError, KeyError) as err:
            raise SourceFormatError(
                f'{self.path}: not a readable ROS bag ({err})') from None
        try:
            yield reader
        finally:
            reader.close()

    def __len__(self) -> int:
        return self.num

    def describe(self, index: int) -> str:
        """The bag, topic and message index of scan ``index``."""
        return f'{self.path}: topic {self.topic} message {index}'

    def __iter__(self) -> Iterator[Frame]:
        with self._reader() as reader:
            conns = [c for c in reader.connections if c.topic == self.topic]
            last: Optional[float] = None
            for i, (conn, bag_ns, raw) in enumerate(reader.messages(conns)):
                where = self.describe(i)
                msg = reader.deserialize(raw, conn.msgtype)
                stamp = _stamp(msg, bag_ns)
                if last is not None and not stamp > last:
                    raise SourceFormatError(
                        f'{where}: timestamps out of order: {stamp:.6f} s is '
                        f'not after the previous message\'s {last:.6f} s')
                last = stamp
                points = pointcloud2_to_points(msg, where,
                                               self.intensity_field)
                yield Frame(stamp, points, None, f'{i:06d}')


def is_bag(path: PathLike) -> bool:
    """Whether ``path`` looks like a ROS bag (by name / metadata.yaml)."""
    path = os.fspath(path)
    if osp.isdir(path):
        return osp.isfile(osp.join(path, 'metadata.yaml'))
    return osp.splitext(path)[1].lower() in ('.bag', '.db3', '.mcap')


#: PointField datatype of each numpy type (the inverse of POINTFIELD_TYPES).
_NUMPY_TO_POINTFIELD = {np.dtype(v).str.lstrip('<>|='): k
                        for k, v in POINTFIELD_TYPES.items()}


def points_to_pointcloud2(cloud: np.ndarray, stamp: float, typestore,
                          frame_id: str = 'lidar', height: int = 1,
                          row_padding: int = 0):
    """A ``sensor_msgs/PointCloud2`` message of a structured array.

    Args:
        cloud: (N,) structured array of numeric fields (their order and
            types are kept), or (N, 4) float32 x, y, z, intensity.
        stamp: Header time [s].
        typestore: The rosbags typestore of the bag's ROS version.
        frame_id: Header frame.
        height: Rows of an organised cloud (N must divide).
        row_padding: Bytes appended to every row (``row_step`` larger than
            ``width * point_step``, as some drivers write).

    Returns:
        The message object of ``typestore``.
    """
    cloud = np.asarray(cloud)
    if cloud.dtype.names is None:
        table = cloud.astype(np.float32)
        cloud = np.zeros(len(table), dtype=[(k, '<f4') for k in (
            'x', 'y', 'z', 'intensity')])
        for col, name in enumerate(cloud.dtype.names):
            cloud[name] = table[:, col]
    types = typestore.types
    field_cls = types['sensor_msgs/msg/PointField']
    fields = []
    for name in cloud.dtype.names:
        dt, offset = cloud.dtype.fields[name][:2]
        code = _NUMPY_TO_POINTFIELD[dt.base.str.lstrip('<>|=')]
        count = int(np.prod(dt.shape)) if dt.shape else 1
        fields.append(field_cls(name=name, offset=offset, datatype=code,
                                count=count))
    little = cloud.astype(cloud.dtype.newbyteorder('<'))
    if len(cloud) % height:
        raise ValueError(f'{len(cloud)} points are not {height} rows')
    width = len(cloud) // height
    rows = np.frombuffer(little.tobytes(), np.uint8).reshape(height, -1)
    if row_padding:
        rows = np.concatenate(
            [rows, np.zeros((height, row_padding), np.uint8)], axis=1)
    sec = int(np.floor(stamp))
    time_cls = types['builtin_interfaces/msg/Time']
    header_cls = types['std_msgs/msg/Header']
    header_args = dict(stamp=time_cls(sec=sec, nanosec=int(round(
        (stamp - sec) * 1e9))), frame_id=frame_id)
    if 'seq' in header_cls.__dataclass_fields__:  # ROS1
        header_args['seq'] = 0
    return types['sensor_msgs/msg/PointCloud2'](
        header=header_cls(**header_args), height=height, width=width,
        fields=fields, is_bigendian=False, point_step=cloud.dtype.itemsize,
        row_step=rows.shape[1], data=np.ascontiguousarray(rows).reshape(-1),
        is_dense=True)


def write_pointcloud2_bag(path: PathLike, scans, topic: str = '/points',
                          storage: str = 'mcap', frame_id: str = 'lidar'
                          ) -> str:
    """Write scans as a ROS bag of ``sensor_msgs/PointCloud2`` messages.

    A ``.bag`` path writes a ROS1 bag; any other path a ROS2 bag folder
    with ``storage`` ``'mcap'`` or ``'sqlite3'`` (``.db3``). The bag must
    not exist (nothing is overwritten).

    Args:
        path: The ``.bag`` file or the ROS2 bag folder.
        scans: Iterable of ``(timestamp [s], cloud)`` with ``cloud`` as in
            :func:`points_to_pointcloud2`, or of ``(timestamp, message)``
            already built.
        topic: The topic.
        storage: ROS2 storage plugin.
        frame_id: Header frame of the messages.

    Returns:
        str: The path.
    """
    from rosbags.typesys import Stores, get_typestore
    path = os.fspath(path)
    ros1 = path.endswith('.bag')
    typestore = get_typestore(Stores.ROS1_NOETIC if ros1 else
                              Stores.ROS2_HUMBLE)
    if ros1:
        from rosbags.rosbag1 import Writer
        writer = Writer(path)
        serialize = typestore.serialize_ros1
    else:
        from rosbags.rosbag2 import StoragePlugin, Writer
        plugins = dict(mcap=StoragePlugin.MCAP, sqlite3=StoragePlugin.SQLITE3)
        if storage not in plugins:
            raise ValueError(f"storage must be 'mcap' or 'sqlite3', got "
                             f'{storage!r}')
        writer = Writer(path, version=9, storage_plugin=plugins[storage])
        serialize = typestore.serialize_cdr
    with writer:
        conn = writer.add_connection(topic, POINTCLOUD2, typestore=typestore)
        for stamp, cloud in scans:
            msg = cloud if hasattr(cloud, 'fields') else \
                points_to_pointcloud2(cloud, stamp, typestore, frame_id)
            writer.write(conn, int(round(stamp * 1e9)),
                         serialize(msg, POINTCLOUD2))
    return path
