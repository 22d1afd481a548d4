"""The PCD reader and writer against files written byte by byte here."""
import struct

import numpy as np
import pytest

from kdmos_plugin.sources import SourceFormatError, read_pcd, write_pcd
from kdmos_plugin.sources.folder import read_pcd_points

HEADER = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
          'FIELDS {fields}\nSIZE {size}\nTYPE {type}\nCOUNT {count}\n'
          'WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\n'
          'DATA {data}\n')


def _literal_binary(path, rows):
    """intensity u1, z f8, x f4, y f4 (not x y z order), by struct."""
    head = HEADER.format(fields='intensity z x y', size='1 8 4 4',
                         type='U F F F', count='1 1 1 1', n=len(rows),
                         data='binary')
    body = b''.join(struct.pack('<Bdff', i, z, x, y) for x, y, z, i in rows)
    path.write_bytes(head.encode() + body)


ROWS = [(1.5, -2.25, 0.125, 7), (10.0, 20.0, -1.75, 255), (0.0, 0.5, 3.0, 0)]


def test_binary_any_field_order(tmp_path):
    path = tmp_path / 'a.pcd'
    _literal_binary(path, ROWS)
    cloud = read_pcd(path)
    assert cloud.dtype.names == ('intensity', 'z', 'x', 'y')
    points = read_pcd_points(str(path))
    assert points.dtype == np.float32
    np.testing.assert_array_equal(points, np.array(ROWS, np.float32))


def test_ascii_with_comments_and_count(tmp_path):
    # a field of COUNT 2 ("normal") between the coordinates
    path = tmp_path / 'b.pcd'
    head = HEADER.format(fields='y normal x z', size='4 4 4 4',
                         type='F F F F', count='1 2 1 1', n=2, data='ascii')
    path.write_text(head + '1.5 9 9 -2 0.25\n-3 8 8 4 nan\n')
    cloud = read_pcd(path)
    assert cloud['normal'].shape == (2, 2)
    points = read_pcd_points(str(path))  # no intensity field: NaN
    np.testing.assert_array_equal(points[:, :3], [[-2, 1.5, 0.25],
                                                  [4, -3, np.nan]])
    assert np.isnan(points[:, 3]).all()


@pytest.mark.parametrize('data', ['ascii', 'binary'])
def test_round_trip(tmp_path, data):
    rng = np.random.default_rng(0)
    cloud = np.zeros(200, dtype=[('ring', '<u2'), ('x', '<f4'), ('z', '<f8'),
                                 ('y', '<f4'), ('intensity', '<f4'),
                                 ('t', '<i4')])
    for name in cloud.dtype.names:
        cloud[name] = rng.normal(0, 30, 200).astype(cloud.dtype[name]) \
            if cloud.dtype[name].kind == 'f' else rng.integers(0, 60000, 200)
    path = tmp_path / f'c_{data}.pcd'
    write_pcd(path, cloud, data=data)
    back = read_pcd(path)
    assert back.dtype.names == cloud.dtype.names
    for name in cloud.dtype.names:
        np.testing.assert_array_equal(back[name], cloud[name])
    assert not list(tmp_path.glob('*.tmp*'))


def test_write_plain_points(tmp_path):
    pts = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    write_pcd(tmp_path / 'd.pcd', pts, data='ascii')
    np.testing.assert_array_equal(read_pcd_points(str(tmp_path / 'd.pcd')),
                                  pts)


def test_truncated_binary(tmp_path):
    path = tmp_path / 'e.pcd'
    _literal_binary(path, ROWS)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(SourceFormatError,
                       match=r'e\.pcd: binary data .* truncated'):
        read_pcd(path)


def test_ascii_wrong_count(tmp_path):
    path = tmp_path / 'f.pcd'
    head = HEADER.format(fields='x y z', size='4 4 4', type='F F F',
                         count='1 1 1', n=2, data='ascii')
    path.write_text(head + '1 2 3\n4 5\n')
    with pytest.raises(SourceFormatError, match='holds 5 values.* 2 points'):
        read_pcd(path)


def test_binary_compressed_is_refused_clearly(tmp_path):
    path = tmp_path / 'g.pcd'
    head = HEADER.format(fields='x y z', size='4 4 4', type='F F F',
                         count='1 1 1', n=2, data='binary_compressed')
    path.write_bytes(head.encode() + b'\x00' * 16)
    with pytest.raises(SourceFormatError,
                       match=r'g\.pcd: DATA binary_compressed .* not '
                       r'supported; convert'):
        read_pcd(path)


def test_missing_coordinate_field(tmp_path):
    path = tmp_path / 'h.pcd'
    head = HEADER.format(fields='x y intensity', size='4 4 4', type='F F F',
                         count='1 1 1', n=1, data='ascii')
    path.write_text(head + '1 2 3\n')
    with pytest.raises(SourceFormatError,
                       match=r'h\.pcd: no field z \(fields: x, y, '
                       r'intensity\)'):
        read_pcd_points(str(path))


@pytest.mark.parametrize('text,match', [
    ('hello world\n', 'not a PCD file'),
    ('VERSION 0.7\nFIELDS x\n', 'no DATA line'),
    (HEADER.format(fields='x y', size='4 4', type='F', count='1 1', n=1,
                   data='ascii') + '1 2\n', 'differ in length'),
    (HEADER.format(fields='x', size='3', type='F', count='1', n=1,
                   data='ascii') + '1\n', 'unknown TYPE F / SIZE 3'),
    (HEADER.format(fields='x', size='4', type='F', count='1', n=1,
                   data='ascii') + 'one\n', 'not a number'),
])
def test_bad_headers(tmp_path, text, match):
    path = tmp_path / 'bad.pcd'
    path.write_text(text)
    with pytest.raises(SourceFormatError, match=match) as err:
        read_pcd(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pcd'):
        read_pcd(tmp_path / 'nope.pcd')
