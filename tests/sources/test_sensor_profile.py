"""Sensor profiles: preset facts, derived settings, file round trip, bad
files."""
import json
import math

import numpy as np
import pytest

from kdmos_plugin.sources.sensor_profile import (SENSOR_PROFILES,
                                                 SensorProfile,
                                                 SensorProfileError,
                                                 get_profile, profile_table,
                                                 register_profile)


@pytest.mark.parametrize('name,beams,lo,hi,rate,scale', [
    ('hdl64e', 64, -24.8, 2.0, 10.0, 1.0),
    ('hdl32e', 32, -30.67, 10.67, 20.0, 255.0),
    ('vlp16', 16, -15.0, 15.0, 10.0, 255.0),
    ('os1-64', 64, -22.5, 22.5, 10.0, 255.0),
    ('os1-128', 128, -22.5, 22.5, 10.0, 255.0),
])
def test_preset_facts(name, beams, lo, hi, rate, scale):
    p = get_profile(name)
    assert p.name == name
    assert p.beams == beams
    assert p.vertical_fov == (lo, hi)
    assert p.scan_rate == rate
    assert p.intensity_scale == scale
    el = np.rad2deg(p.elevation_angles())
    assert el.shape == (beams, )
    assert np.all(np.diff(el) < 0)  # top beam first
    assert el[0] == pytest.approx(hi) and el[-1] == pytest.approx(lo)


def test_evenly_spread_beams_match_a_literal_list():
    # VLP-16: 16 beams 2 degrees apart from +15 down to -15
    expected = [15.0 - 2.0 * i for i in range(16)]
    assert np.rad2deg(get_profile('vlp16').elevation_angles()) == \
        pytest.approx(expected)
    # HDL-32E: 4/3 degree spacing
    el = np.rad2deg(get_profile('hdl32e').elevation_angles())
    assert np.diff(el) == pytest.approx(np.full(31, -41.34 / 31))


def test_hdl64e_two_blocks():
    el = np.rad2deg(get_profile('semantickitti').elevation_angles())
    upper, lower = np.diff(el[:32]), np.diff(el[32:])
    assert upper == pytest.approx(np.full(31, -10.33 / 31))
    assert lower == pytest.approx(np.full(31, -15.97 / 31))


@pytest.mark.parametrize('alias,name', [
    ('SemanticKITTI', 'hdl64e'), ('nuScenes', 'hdl32e'), ('HDL-32E', 'hdl32e'),
    ('VLP_16', 'vlp16'), ('OS1-128', 'os1-128'), ('os1_64', 'os1-64')])
def test_lookup_is_case_and_separator_insensitive(alias, name):
    assert get_profile(alias) is SENSOR_PROFILES[name]


def test_default_is_the_training_sensor():
    assert get_profile(None).name == 'hdl64e'
    p = get_profile('vlp16')
    assert get_profile(p) is p


def test_unknown_name_lists_presets():
    with pytest.raises(SensorProfileError, match='hdl64e.*vlp16'):
        get_profile('hdl-48')


@pytest.mark.parametrize('rate,stride', [(10.0, 1), (20.0, 2), (2.0, 1),
                                         (5.0, 1), (15.0, 2), (40.0, 4)])
def test_scan_stride(rate, stride):
    p = SensorProfile('s', 16, (-15, 15), 0.2, 100.0, 1.73, rate)
    assert p.scan_stride() == stride
    # the window: 7 past scans span 7 * stride / rate seconds
    assert p.window_span(7) == pytest.approx(7 * stride / rate)


def test_window_spans_training_time_at_20hz_and_longer_at_2hz():
    assert get_profile('hdl32e').window_span(7) == pytest.approx(0.7)
    assert get_profile('hdl64e').window_span(7) == pytest.approx(0.7)
    slow = SensorProfile('kf', 32, (-30, 10), 0.33, 100.0, 1.84, 2.0)
    assert slow.window_span(7) == pytest.approx(3.5)


def test_intensity_normalisation():
    p = get_profile('vlp16')
    raw = np.array([0, 51, 255, 300], np.uint16)
    out = p.normalize_intensity(raw)
    assert out.dtype == np.float32
    assert out.tolist() == pytest.approx([0.0, 0.2, 1.0, 1.0])
    kitti = get_profile('hdl64e')
    vals = np.array([0.0, 0.25, 0.99], np.float32)
    assert np.array_equal(kitti.normalize_intensity(vals), vals)
    none = SensorProfile('noint', 16, (-15, 15), 0.2, 100.0, 1.0, 10.0,
                         intensity_scale=None, intensity_fill=0.3)
    assert none.normalize_intensity(raw).tolist() == pytest.approx([0.3] * 4)
    assert kitti.normalize_intensity(None, num_points=3).tolist() == [0.0] * 3
    with pytest.raises(ValueError, match='num_points'):
        kitti.normalize_intensity(None)


def test_normalize_points_keeps_xyz():
    pts = np.array([[1.5, -2.0, 0.25, 128.0], [3.0, 4.0, 5.0, 0.0]])
    out = get_profile('os1-64').normalize_points(pts)
    assert out.dtype == np.float32
    assert np.array_equal(out[:, :3], pts[:, :3].astype(np.float32))
    assert out[:, 3].tolist() == pytest.approx([128 / 255, 0.0])
    assert pts[0, 3] == 128.0  # input untouched


def test_polar_bounds_follow_mounting_height():
    lo, hi = get_profile('hdl64e').polar_bounds()
    assert lo == pytest.approx([1.85, -math.pi, -4.0])
    assert hi == pytest.approx([50.15, math.pi, 2.0])
    lo, hi = get_profile('hdl32e').polar_bounds()  # 1.84 m: 0.11 m higher
    assert lo == pytest.approx([1.85, -math.pi, -4.11])
    assert hi == pytest.approx([50.15, math.pi, 1.89])
    low = SensorProfile('low', 16, (-15, 15), 0.2, 100.0, 0.73, 10.0)
    lo, hi = low.polar_bounds([2.0, -math.pi, -3.0], [40.0, math.pi, 1.0])
    assert lo == pytest.approx([2.0, -math.pi, -2.0])
    assert hi == pytest.approx([40.0, math.pi, 2.0])


@pytest.mark.parametrize('suffix', ['.yaml', '.yml', '.json'])
@pytest.mark.parametrize('name', sorted(SENSOR_PROFILES))
def test_file_round_trip(tmp_path, name, suffix):
    p = SENSOR_PROFILES[name]
    path = tmp_path / f'profile{suffix}'
    p.save(path)
    assert get_profile(str(path)) == p
    assert not list(tmp_path.glob('*.tmp*'))  # atomic write left nothing


def test_profile_from_minimal_yaml(tmp_path):
    path = tmp_path / 'mine.yaml'
    path.write_text('name: mine\nbeams: 16\nvertical_fov: [-15, 15]\n'
                    'horizontal_resolution: 0.2\nmax_range: 100\n'
                    'mounting_height: 1.2\nscan_rate: 20\n'
                    'intensity_scale: null\nintensity_fill: 0.5\n')
    p = get_profile(path)
    assert (p.beams, p.scan_stride(), p.intensity_scale) == (16, 2, None)
    assert p.normalize_intensity(np.ones(2)).tolist() == [0.5, 0.5]


def _write(tmp_path, text, suffix='.yaml'):
    path = tmp_path / f'bad{suffix}'
    path.write_text(text)
    return str(path)


GOOD = dict(name='x', beams=16, vertical_fov=[-15, 15],
            horizontal_resolution=0.2, max_range=100.0, mounting_height=1.7,
            scan_rate=10.0)


@pytest.mark.parametrize('change,match', [
    (dict(beams=0), 'beams must be an int'),
    (dict(beams=16.5), 'beams must be an int'),
    (dict(beams=True), 'beams must be an int'),
    (dict(vertical_fov=[15, -15]), 'vertical_fov'),
    (dict(vertical_fov=[-15]), 'vertical_fov'),
    (dict(vertical_fov='wide'), 'vertical_fov must be a list'),
    (dict(scan_rate=0), 'scan_rate must be a number > 0'),
    (dict(max_range=-1), 'max_range'),
    (dict(intensity_scale=0), 'intensity_scale'),
    (dict(intensity_scale='255'), 'intensity_scale'),
    (dict(mounting_height='high'), 'mounting_height'),
    (dict(elevations=[1.0] * 3), 'elevations holds 3 angles for 16 beams'),
    (dict(elevations=list(range(-15, 1))), 'top beam first'),
    (dict(elevations=[20.0 - i for i in range(16)]), 'outside vertical_fov'),
    (dict(colour='red'), "unknown fields \\['colour'\\]"),
])
def test_bad_fields_name_the_file(tmp_path, change, match):
    path = _write(tmp_path, json.dumps({**GOOD, **change}), '.json')
    with pytest.raises(SensorProfileError, match=match) as err:
        get_profile(path)
    assert path in str(err.value)


def test_missing_fields_are_named(tmp_path):
    data = {k: v for k, v in GOOD.items() if k not in ('beams', 'scan_rate')}
    path = _write(tmp_path, json.dumps(data), '.json')
    with pytest.raises(SensorProfileError,
                       match=r"missing fields \['beams', 'scan_rate'\]"):
        get_profile(path)


@pytest.mark.parametrize('text,match', [
    ('beams: [1, 2\n', 'not valid YAML'),
    ('- 1\n- 2\n', 'expected a mapping'),
    ('', 'expected a mapping'),
    # a YAML tag that an unsafe loader would turn into a call
    ('!!python/object/apply:os.system ["echo hacked"]\n', 'not valid YAML'),
])
def test_bad_yaml(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(SensorProfileError, match=match):
        get_profile(path)


def test_bad_json(tmp_path):
    with pytest.raises(SensorProfileError, match='not valid JSON'):
        get_profile(_write(tmp_path, '{"beams": 16,', '.json'))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nowhere.yaml'):
        get_profile('/nonexistent/nowhere.yaml')


def test_register_refuses_taken_names():
    with pytest.raises(KeyError, match='taken'):
        register_profile(SensorProfile('VLP-16', 16, (-15, 15), 0.2, 100.0,
                                       1.0, 10.0))
    with pytest.raises(KeyError, match='taken'):
        register_profile(SensorProfile('new-one', 16, (-15, 15), 0.2, 100.0,
                                       1.0, 10.0), aliases=('nuscenes', ))
    assert 'new-one' not in SENSOR_PROFILES


def test_profile_table_lists_every_preset():
    table = profile_table().splitlines()
    assert len(table) == 2 + len(SENSOR_PROFILES)
    assert '| hdl32e | 32 | -30.67 to 10.67 |' in table[3]
    assert table[3].endswith('| 0-255 | 2 |')
