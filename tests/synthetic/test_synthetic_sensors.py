"""Synthetic sequences per sensor profile: beams, rate and intensity of the
written files match the profile; the default output stays as it was."""
import dataclasses
import json
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.sources.sensor_profile import SensorProfile, get_profile
from kdmos_plugin.synthetic import EGO_BODY, SyntheticSequence, write_sequence
from kdmos_plugin.synthetic.sensors import (lidar_from_profile,
                                            random_profile, scan_period)

REPO = Path(__file__).resolve().parents[2]


def coarse(preset, **changes):
    """A preset with a coarse azimuth step (about 260 columns: fast)."""
    return dataclasses.replace(get_profile(preset), horizontal_resolution=1.4,
                               **changes)


# every preset, plus 2 Hz keyframes of the 32-beam sensor and a sensor
# without intensity
PROFILES = {
    'hdl64e': coarse('hdl64e'),
    'hdl32e': coarse('hdl32e'),
    'hdl32e-2hz': coarse('hdl32e', name='hdl32e-2hz', scan_rate=2.0),
    'vlp16': coarse('vlp16'),
    'os1-64': coarse('os1-64'),
    'os1-128': coarse('os1-128', intensity_scale=None, intensity_fill=0.5),
}


def read_sequence(seq_dir, labels=False):
    scans = sorted(Path(seq_dir, 'velodyne').glob('*.bin'))
    points = [np.fromfile(p, np.float32).reshape(-1, 4) for p in scans]
    times = np.loadtxt(osp.join(seq_dir, 'times.txt'), ndmin=1)
    if labels:
        sem = [np.fromfile(p, np.uint32) & 0xFFFF for p in sorted(
            Path(seq_dir, 'labels').glob('*.label'))]
        return points, times, sem
    return points, times


# every profile in the plain scene; the held-out sensors of the
# cross-sensor experiment, and a random one, also in the rich scene it uses
CASES = [(key, 'plain') for key in sorted(PROFILES)] + [
    ('hdl32e-2hz', 'rich'), ('hdl32e-20hz', 'rich'), ('vlp16', 'rich'),
    ('os1-128', 'rich'), ('random', 'rich')]
PROFILES['hdl32e-20hz'] = coarse('hdl32e', name='hdl32e-20hz')
PROFILES['random'] = dataclasses.replace(
    random_profile(np.random.default_rng(3), 'random-x'),
    horizontal_resolution=1.4)


@pytest.mark.parametrize('key, detail', CASES)
def test_profile_sequence_matches_its_profile(tmp_path, key, detail):
    profile = PROFILES[key]
    seq_dir = write_sequence(str(tmp_path), '00', 3, seed=1, sensor=profile,
                             scene_detail=detail)
    points, times, sem = read_sequence(seq_dir, labels=True)
    assert len(points) == 3
    # rate: the written times and the simulated motion
    np.testing.assert_allclose(np.diff(times), 1.0 / profile.scan_rate,
                               rtol=1e-9)
    # beams: every point lies on one of the profile's beams (elevation up to
    # the per-beam calibration jitter), beams looking down all return
    xyz = np.concatenate(points)[:, :3]
    el = np.rad2deg(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    beams = np.rad2deg(profile.elevation_angles())
    nearest = np.abs(el[:, None] - beams[None]).argmin(1)
    assert np.abs(el - beams[nearest]).max() < 0.2
    seen = set(nearest.tolist())
    assert len(seen) <= profile.beams
    downward = set(np.flatnonzero(beams < -4.0).tolist())
    assert downward and downward <= seen
    # range and mounting height: the road lies mounting_height below
    rng = np.linalg.norm(xyz, axis=1)
    assert rng.min() >= profile.min_range and rng.max() <= profile.max_range
    # (not counting the points on the own car, where the profile has one:
    # there, and only there, the scans hold them)
    ego = np.concatenate(sem) == EGO_BODY
    assert ego.any() == (profile.ego_body is not None)
    road = xyz[(el < -5.0) & ~ego, 2]
    assert abs(np.median(road) + profile.mounting_height) < 0.3
    # intensity on the profile's scale
    inten = np.concatenate(points)[:, 3]
    if profile.intensity_scale is None:
        assert np.all(inten == np.float32(profile.intensity_fill))
    elif profile.intensity_scale == 255.0:
        assert inten.min() >= 0 and inten.max() <= 255
        assert np.all(inten == np.round(inten)) and inten.max() > 20
    else:
        assert inten.min() >= 0 and inten.max() <= 0.99
        assert inten.max() > 0.2
        np.testing.assert_allclose(inten * 100, np.round(inten * 100),
                                   atol=1e-3)
    # the profile is stored beside the sequence
    stored = SensorProfile.load(osp.join(seq_dir, 'sensor.json'))
    assert stored == profile


@pytest.mark.parametrize('rate', [2.0, 20.0])
def test_scene_moves_at_the_scan_rate(rate):
    """Agents and the ego vehicle cover speed x period between scans."""
    profile = coarse('hdl32e', scan_rate=rate)
    sim = SyntheticSequence(6, seed=2, sequence='01', sensor=profile)
    period = scan_period(profile)
    assert period == pytest.approx(1.0 / rate)
    np.testing.assert_allclose(np.diff(sim.scene.times), period)
    moved = 0
    for ag in sim.scene.agents:
        step = np.hypot(*np.diff(ag.poses[:, :2], axis=0).T)
        mean_speed = 0.5 * (ag.speed[1:] + ag.speed[:-1])
        smooth = np.abs(np.diff(ag.speed)) < 0.05  # constant speed parts
        if smooth.any():
            np.testing.assert_allclose(step[smooth] / period,
                                       mean_speed[smooth], rtol=0.05,
                                       atol=0.05)
            moved += int((mean_speed[smooth] > 1).sum())
    assert moved > 0


def test_lidar_from_profile_fields():
    lidar = lidar_from_profile('vlp16', range_noise=0.07)
    profile = get_profile('vlp16')
    assert lidar.num_beams == 16 and lidar.num_columns == profile.num_columns
    assert lidar.height == profile.mounting_height
    assert lidar.range_noise == 0.07
    np.testing.assert_allclose(np.rad2deg(lidar.elevations),
                               np.linspace(15, -15, 16), atol=0.2)


def _tool():
    """tools/make_synthetic_data.py as a module (run in this process)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_data', REPO / 'tools/make_synthetic_data.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_tool_sensor_file_and_scan_rate(tmp_path):
    profile = dataclasses.replace(coarse('vlp16'), name='my-puck',
                                  mounting_height=1.2)
    path = tmp_path / 'puck.yaml'
    profile.save(path)
    out = tmp_path / 'data'
    tool = _tool()
    tool.main([str(out), '--sequences', '05', '--scans', '2', '--sensor',
               str(path), '--scan-rate', '2'])
    seq = out / 'sequences' / '05'
    stored = json.loads((seq / 'sensor.json').read_text())
    # the rate override renames the profile
    assert stored['name'] == 'my-puck-2hz' and stored['scan_rate'] == 2.0
    assert stored['mounting_height'] == 1.2
    _, times = read_sequence(seq)
    np.testing.assert_allclose(times, [0.0, 0.5])
    with pytest.raises(SystemExit, match='hdl65'):
        tool.main([str(tmp_path / 'x'), '--sensor', 'hdl65'])
    assert not (tmp_path / 'x').exists()
    both = subprocess.run(
        [sys.executable, str(REPO / 'tools/make_synthetic_data.py'),
         str(tmp_path / 'y'), '--sensor', 'vlp16', '--preset', 'full'],
        capture_output=True, text=True, cwd=REPO)  # argparse: no imports
    assert both.returncode != 0 and '--preset' in both.stderr


def test_mixed_sensor_config_normalises_each_sequence(tmp_path):
    """configs/_base_/datasets/synthetic_mixed_sensors.py: sequences of two
    sensors (0-1 and 0-255 intensity) load with their own profiles, every
    intensity on the 0-1 scale, the points otherwise as written."""
    from mmdet3d.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import kdmos_plugin  # noqa: F401
    from kdmos_plugin.datasets.kitti_io import read_points
    from kdmos_plugin.synthetic import write_dataset
    write_dataset(str(tmp_path), ['00', '08'], 2, seed=3,
                  sensor=[PROFILES['hdl64e'], PROFILES['vlp16']])
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(
        str(REPO / 'configs/_base_/datasets/synthetic_mixed_sensors.py'))
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.data_root = str(tmp_path)
    ds_cfg.sequences = ['00', '08']
    ds = DATASETS.build(ds_cfg)
    assert ds.sequence_table['08']['sensor'] == PROFILES['vlp16']
    for idx, scale in ((1, 1.0), (3, 255.0)):
        sample = ds[idx]
        raw = read_points(sample['data_samples'].metainfo['lidar_path'])
        pts = sample['inputs']['points'].numpy()
        np.testing.assert_array_equal(pts[:, :3], raw[:, :3])
        np.testing.assert_allclose(pts[:, 3], np.clip(raw[:, 3] / scale, 0, 1),
                                   rtol=1e-6)
        assert pts[:, 3].max() <= 1.0 and raw[:, 3].max() > 0.2 * scale


def test_random_profiles_are_valid_and_varied():
    from kdmos_plugin.synthetic.sensors import random_profile, resolve_sensors
    rng = np.random.default_rng(0)
    profiles = [random_profile(rng, f'r{k}') for k in range(40)]
    for p in profiles:
        lidar = lidar_from_profile(p)  # beams stay ordered after jitter
        assert lidar.num_beams == p.beams
        assert p.vertical_fov[1] - p.vertical_fov[0] >= \
            0.3 * (p.beams - 1) - 1e-9
    assert {p.beams for p in profiles} == {16, 32, 64, 128}
    assert {p.scan_rate for p in profiles} == {2.0, 10.0, 20.0}
    assert {p.intensity_scale for p in profiles} == {1.0, 255.0, None}
    # the tool's --sensor random: one profile a sequence, fixed by the seed
    a = resolve_sensors(['random'], None, 3, random_seed=5)
    assert a == resolve_sensors(['random'], None, 3, random_seed=5)
    assert [p.name for p in a] == ['random-00', 'random-01', 'random-02']
    b = resolve_sensors(['vlp16', 'hdl32e'], 2.0, 3)
    assert [p.name for p in b] == ['vlp16-2hz', 'hdl32e-2hz', 'vlp16-2hz']
    assert all(p.scan_rate == 2.0 for p in b)
