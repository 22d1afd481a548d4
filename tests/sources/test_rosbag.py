"""PointCloud2 scans from ROS1 and ROS2 bags (written here with rosbags)."""
import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from kdmos_plugin.sources import (RosbagSource, SourceFormatError,
                                  build_source, get_profile)
from kdmos_plugin.sources.rosbag import (POINTCLOUD2, points_to_pointcloud2,
                                         write_pointcloud2_bag)

#: (path of the bag under tmp_path, ROS2 storage)
BAGS = [('drive.bag', 'mcap'), ('drive_db3', 'sqlite3'),
        ('drive_mcap', 'mcap')]


def _cloud(seed, n=40, intensity='u1'):
    """x, y, z and intensity in a scrambled field order and mixed types."""
    rng = np.random.default_rng(seed)
    cloud = np.zeros(n, dtype=[('ring', '<u2'), ('intensity', intensity),
                               ('z', '<f8'), ('t', '<f4'), ('y', '<f4'),
                               ('x', '<f4')])
    cloud['x'] = rng.normal(0, 10, n)
    cloud['y'] = rng.normal(0, 10, n)
    cloud['z'] = rng.normal(0, 1, n)
    cloud['ring'] = rng.integers(0, 32, n)
    cloud['intensity'] = rng.integers(0, 256, n) if intensity[0] == 'u' \
        else rng.random(n)
    return cloud


def _expected(cloud):
    return np.stack([cloud['x'], cloud['y'], cloud['z'].astype(np.float32),
                     cloud['intensity'].astype(np.float32)], 1)


@pytest.mark.parametrize('name,storage', BAGS)
@pytest.mark.parametrize('intensity', ['u1', '<u2', '<f4', '<f8'])
def test_bag_round_trip(tmp_path, name, storage, intensity):
    clouds = [_cloud(i, intensity=intensity) for i in range(3)]
    path = write_pointcloud2_bag(tmp_path / name,
                                 [(50.0 + 0.1 * i, c)
                                  for i, c in enumerate(clouds)],
                                 topic='/velodyne_points', storage=storage)
    src = build_source(path)
    assert isinstance(src, RosbagSource)
    assert (src.topic, len(src)) == ('/velodyne_points', 3)
    frames = list(src)
    assert [f.timestamp for f in frames] == pytest.approx([50.0, 50.1, 50.2])
    assert [f.name for f in frames] == ['000000', '000001', '000002']
    for frame, cloud in zip(frames, clouds):
        assert frame.points.dtype == np.float32 and frame.pose is None
        np.testing.assert_array_equal(frame.points, _expected(cloud))


def test_storage_file_picks_its_bag_folder(tmp_path):
    write_pointcloud2_bag(tmp_path / 'b', [(1.0, _cloud(0))],
                          storage='sqlite3')
    assert len(build_source(tmp_path / 'b' / 'b.db3')) == 1
    lonely = tmp_path / 'lonely.mcap'
    lonely.write_bytes(b'\x89MCAP0\r\n')
    with pytest.raises(SourceFormatError, match='has no metadata.yaml'):
        build_source(lonely)


def test_intensity_is_normalised_by_the_profile(tmp_path):
    cloud = _cloud(1, intensity='u1')
    path = write_pointcloud2_bag(tmp_path / 'a.bag', [(1.0, cloud)])
    raw = next(iter(build_source(path))).points
    scaled = get_profile('vlp16').normalize_points(raw)
    np.testing.assert_allclose(scaled[:, 3], cloud['intensity'] / 255.0,
                               rtol=1e-6)


def test_organised_cloud_with_padded_rows(tmp_path):
    ts = get_typestore(Stores.ROS2_HUMBLE)
    cloud = _cloud(2, n=24)
    msg = points_to_pointcloud2(cloud, 3.0, ts, height=4, row_padding=5)
    assert msg.row_step == 6 * cloud.dtype.itemsize + 5
    path = write_pointcloud2_bag(tmp_path / 'org', [(3.0, msg)])
    np.testing.assert_array_equal(next(iter(build_source(path))).points,
                                  _expected(cloud))


def test_missing_intensity_is_nan(tmp_path):
    cloud = _cloud(3)[['x', 'y', 'z']]
    cloud = np.ascontiguousarray(cloud.astype(
        [('x', '<f4'), ('y', '<f4'), ('z', '<f8')]))
    path = write_pointcloud2_bag(tmp_path / 'noint', [(1.0, cloud)])
    points = next(iter(build_source(path))).points
    assert np.isnan(points[:, 3]).all()
    filled = get_profile('hdl64e').normalize_points(points)
    assert (filled[:, 3] == get_profile('hdl64e').intensity_fill).all()


def _two_topics(path):
    from rosbags.rosbag2 import Writer
    ts = get_typestore(Stores.ROS2_HUMBLE)
    string = ts.types['std_msgs/msg/String']
    with Writer(path, version=9) as writer:
        a = writer.add_connection('/front', POINTCLOUD2, typestore=ts)
        b = writer.add_connection('/rear', POINTCLOUD2, typestore=ts)
        c = writer.add_connection('/chatter', 'std_msgs/msg/String',
                                  typestore=ts)
        for i in range(2):
            for conn in (a, b):
                msg = points_to_pointcloud2(_cloud(i), 1.0 + i, ts)
                writer.write(conn, int((1 + i) * 1e9),
                             ts.serialize_cdr(msg, POINTCLOUD2))
        writer.write(c, int(1e9), ts.serialize_cdr(string(data='hi'),
                                                   'std_msgs/msg/String'))
    return path


def test_topic_choice(tmp_path):
    path = _two_topics(tmp_path / 'two')
    with pytest.raises(SourceFormatError,
                       match=r'2 PointCloud2 topics \(/front, /rear\); '
                       r'choose one with --topic') as err:
        build_source(path)
    assert str(path) in str(err.value)
    assert len(build_source(path, topic='/rear')) == 2
    with pytest.raises(SourceFormatError,
                       match=r"no topic '/top' \(PointCloud2 topics: /front, "
                       r'/rear; all topics: /chatter \(std_msgs/msg/String'):
        build_source(path, topic='/top')
    with pytest.raises(SourceFormatError,
                       match="topic '/chatter' holds std_msgs/msg/String"):
        build_source(path, topic='/chatter')


def _bad_bag(tmp_path, messages, name='bad.bag'):
    """messages: (bag time [s], message) in bag order."""
    return write_pointcloud2_bag(tmp_path / name, messages, topic='/pts')


def _ts1():
    return get_typestore(Stores.ROS1_NOETIC)


def test_missing_field_names_bag_topic_and_message(tmp_path):
    ts = _ts1()
    good = points_to_pointcloud2(_cloud(0), 1.0, ts)
    no_y = points_to_pointcloud2(
        np.ascontiguousarray(_cloud(1)[['x', 'z', 'intensity']]), 1.1, ts)
    path = _bad_bag(tmp_path, [(1.0, good), (1.1, no_y)])
    with pytest.raises(SourceFormatError,
                       match=r'bad\.bag: topic /pts message 1: no field y '
                       r'\(fields: x, z, intensity\)'):
        list(build_source(path))


def test_empty_message(tmp_path):
    ts = _ts1()
    msgs = [(1.0 + 0.1 * i, points_to_pointcloud2(_cloud(i, n=n), 1.0 + .1 * i,
                                                  ts))
            for i, n in enumerate([10, 10, 0])]
    path = _bad_bag(tmp_path, msgs)
    with pytest.raises(SourceFormatError,
                       match=r'bad\.bag: topic /pts message 2: empty message'):
        list(build_source(path))


def test_timestamps_out_of_order(tmp_path):
    ts = _ts1()
    # received in order, stamped out of order
    stamps = [1.0, 1.1, 1.05]
    msgs = [(1.0 + 0.1 * i, points_to_pointcloud2(_cloud(i), s, ts))
            for i, s in enumerate(stamps)]
    path = _bad_bag(tmp_path, msgs)
    with pytest.raises(SourceFormatError,
                       match=r'bad\.bag: topic /pts message 2: timestamps '
                       r'out of order: 1.050000 s is not after .* 1.100000'):
        list(build_source(path))


def test_truncated_message(tmp_path):
    ts = _ts1()
    msg = points_to_pointcloud2(_cloud(0), 1.0, ts)
    msg.data = msg.data[:-7]
    path = _bad_bag(tmp_path, [(1.0, msg)])
    with pytest.raises(SourceFormatError,
                       match='message 0: data holds .* truncated'):
        list(build_source(path))


def test_not_a_bag(tmp_path):
    path = tmp_path / 'fake.bag'
    path.write_bytes(b'this is not a bag')
    with pytest.raises(SourceFormatError,
                       match=r'fake\.bag: not a readable ROS bag'):
        build_source(path)
