"""What the second round added to the generator: the own car in the scans
(a profile's ``ego_body``), rich scenes (relief, facades, lobed
vegetation, more movers) and past scans at the sensor's stride."""
import dataclasses

import numpy as np
import pytest

from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.transforms import LoadMOSScans
from kdmos_plugin.sources.sensor_profile import (SensorProfileError,
                                                 get_profile)
from kdmos_plugin.synthetic import (EGO_BODY, MOVING_ID, SyntheticSequence,
                                    write_sequence)
from kdmos_plugin.synthetic.geometry import BOX, CYLINDER, ELLIPSOID
from kdmos_plugin.synthetic.semantic_ids import (BUILDING, BUS,
                                                 MOTORCYCLIST, ROAD, TRUCK,
                                                 VEGETATION)
from kdmos_plugin.synthetic.streets import (CURB_HEIGHT, ROAD_CROWN,
                                            ground_undulation,
                                            relief_height)

BOX_ = (-2.0, 1.0, -0.8, 0.8, -1.5, -0.4)  # a roof 0.4 m below the sensor


def coarse(preset, **changes):
    return dataclasses.replace(get_profile(preset), horizontal_resolution=1.4,
                               **changes)


def literal_box_hits(dirs, box):
    """Slow literal ray / axis-aligned box test: the entry distance of
    every ray from the origin (inf: a miss), face by face."""
    x0, x1, y0, y1, z0, z1 = box
    lo, hi = np.array([x0, y0, z0]), np.array([x1, y1, z1])
    out = np.full(len(dirs), np.inf)
    for n, d in enumerate(dirs):
        best = np.inf
        for axis in range(3):
            if abs(d[axis]) < 1e-12:
                continue
            for plane in (lo[axis], hi[axis]):
                t = plane / d[axis]
                if t <= 0:
                    continue
                p = t * d
                others = [a for a in range(3) if a != axis]
                if all(lo[a] - 1e-9 <= p[a] <= hi[a] + 1e-9
                       for a in others):
                    best = min(best, t)
        out[n] = best
    return out


def test_ego_body_points_exactly_where_the_profile_says():
    profile = coarse('vlp16', vertical_fov=(-30.0, 10.0), ego_body=BOX_,
                     min_range=0.3, name='roof-vlp16')
    sim = SyntheticSequence(2, seed=4, sequence='02', sensor=profile)
    points, labels = sim.scan(1)
    sem = labels & 0xFFFF
    ego = sem == EGO_BODY
    assert ego.any()
    assert np.all(labels[ego] >> 16 == 0)  # no instance: stuff
    # every ego point lies on the box surface (up to the range noise)
    xyz = points[ego, :3].astype(np.float64)
    lo, hi = np.array(BOX_[::2]), np.array(BOX_[1::2])
    outside = np.maximum(np.maximum(lo - xyz, xyz - hi), 0).max(axis=1)
    assert outside.max() < 0.1
    # ... and the rays that hit the box (a literal test over the sensor's
    # own ray directions) are those that returned from it, but for the
    # dropouts and the outlier returns
    t = literal_box_hits(sim.lidar.dirs.reshape(-1, 3), BOX_)
    expected = int(np.sum(np.isfinite(t) & (t >= profile.min_range + 0.1)))
    assert expected > 50
    assert 0.9 * expected <= ego.sum() <= np.sum(np.isfinite(t))
    # the box occludes what lies below it: no ground point under the roof
    below = (np.abs(points[:, 0] - 0.5 * (BOX_[0] + BOX_[1])) < 1.0) & \
        (np.abs(points[:, 1]) < 0.6) & (points[:, 2] < -1.0)
    assert not below.any()


def test_no_ego_body_without_the_field():
    sim = SyntheticSequence(1, seed=4, sequence='02',
                            sensor=coarse('vlp16'))
    _, labels = sim.scan(0)
    assert not np.any((labels & 0xFFFF) == EGO_BODY)
    assert get_profile('vlp16').ego_body is None
    assert get_profile('hdl32e').ego_body is not None  # nuScenes' car


@pytest.mark.parametrize('box, match', [
    ((0, 1, 0, 1, 0), 'ego_body must be'),
    ((1, 0, -1, 1, -2, -1), 'ego_body must be'),
    ((-1, 1, -1, 1, -1, 1), 'holds the sensor'),
])
def test_bad_ego_body_is_refused(box, match):
    with pytest.raises(SensorProfileError, match=match):
        dataclasses.replace(get_profile('vlp16'), ego_body=box)


def test_ego_body_round_trips_through_a_file(tmp_path):
    profile = coarse('vlp16', ego_body=BOX_)
    profile.save(tmp_path / 'p.yaml')
    assert get_profile(str(tmp_path / 'p.yaml')).ego_body == BOX_


def _scene(detail, seed=5, n=30, sensor=None):
    return SyntheticSequence(n, seed=seed, sequence='03', sensor=sensor,
                             scene_detail=detail)


def test_rich_scene_keeps_the_plain_layout_and_adds_to_it():
    plain, rich = _scene('plain').scene, _scene('rich').scene
    # the plain layout is drawn as in the plain scene (the same ego path);
    # more movers delay or drop a few plain agents
    kinds_plain = [a.kind for a in plain.agents]
    kinds_rich = [a.kind for a in rich.agents]
    kept = sum(kinds_rich.count(k) for k in set(kinds_plain))
    assert kept >= 0.8 * len(kinds_plain)
    np.testing.assert_array_equal(plain.ego_s, rich.ego_s)
    new = {'bus', 'truck', 'motorcycle', 'stop-and-go car', 'slow person',
           'running person', 'pausing person'}
    assert len(new & set(kinds_rich)) >= 4
    assert not new & set(kinds_plain)
    # more vegetation rows (lobes), buildings with round or slanted parts
    veg = [(s.static.sem == VEGETATION).sum() for s in (plain, rich)]
    assert veg[1] > 1.5 * veg[0]
    b = rich.static.sem == BUILDING
    assert (rich.static.kind[b] == CYLINDER).any() or \
        len(np.unique(np.round(rich.static.params[b, 6], 3))) > \
        len(np.unique(np.round(plain.static.params[
            plain.static.sem == BUILDING, 6], 3)))
    assert (rich.static.kind == ELLIPSOID).sum() > \
        (plain.static.kind == ELLIPSOID).sum()
    assert plain.relief is None and rich.relief is not None


def test_rich_movers_are_labelled_and_start_and_stop():
    scene = _scene('rich', n=60).scene
    by_kind = {}
    for ag in scene.agents:
        by_kind.setdefault(ag.kind, []).append(ag)
    for kind, sem in (('bus', BUS), ('truck', TRUCK),
                      ('motorcycle', MOTORCYCLIST)):
        for ag in by_kind.get(kind, []):
            assert ag.sem == sem
            moving = [ag.label(i) for i in range(60) if ag.moving(i)]
            assert set(moving) <= {MOVING_ID[sem]}
    assert by_kind.get('bus') or by_kind.get('truck')
    speeds = {k: np.concatenate([a.speed[a.active] for a in v])
              for k, v in by_kind.items()}
    if 'slow person' in speeds:
        s = speeds['slow person']
        assert np.all((s > 0.2) & (s < 0.75))
    if 'running person' in speeds:
        assert np.all(speeds['running person'] > 3.4)
    # an agent that stops and starts: moving, standing, moving again
    stop_go = [a for k in ('stop-and-go car', 'pausing person')
               for a in by_kind.get(k, [])]
    assert stop_go

    def restarts(ag):
        moving = ag.speed > 0.2
        stopped = np.flatnonzero(~moving)
        return len(stopped) > 0 and moving[:stopped[0]].any() and \
            moving[stopped[-1]:].any()
    assert any(restarts(a) for a in stop_go)


def test_rich_road_has_grade_and_camber_the_ego_follows():
    sim = _scene('rich', n=40, sensor=coarse('hdl64e'))
    scene, relief = sim.scene, sim.scene.relief
    assert 0.2 <= relief['amp'] <= 0.5 and \
        0.01 <= abs(relief['camber']) <= 0.025
    # the road points of a scan lie on the relief (world frame): base
    # height + undulation + grade and camber, up to the range noise
    i = 20
    points, labels = sim.scan(i)
    road = (labels & 0xFFFF) == ROAD
    pose = sim.lidar_poses[i]
    xyz = points[road, :3].astype(np.float64) @ pose[:3, :3].T + pose[:3, 3]
    main = scene.streets[0]
    s, lat, _ = main.frame(xyz[:, :2])
    on_main = np.abs(lat) < main.half_width - 0.3
    crown = ROAD_CROWN * np.clip(1 - (lat / main.half_width) ** 2, 0, 1)
    want = crown + ground_undulation(scene.waves, xyz[:, :2]) + \
        relief_height(relief, s, lat)
    err = np.abs(xyz[:, 2] - want)[on_main]
    assert on_main.sum() > 200
    assert np.median(err) < 0.03 and np.quantile(err, 0.95) < 0.08
    # the relief is not flat over the scan: it spans more than noise
    assert np.ptp(relief_height(relief, s, lat)[on_main]) > 0.05
    # and the ego vehicle rides on it
    ego_s = scene.ego_s
    lift = relief_height(relief, ego_s, np.full(len(ego_s),
                                                -main.lane_offset))
    plain = _scene('plain', n=40, sensor=coarse('hdl64e'))
    np.testing.assert_allclose(sim.lidar_poses[:, 2, 3] -
                               plain.lidar_poses[:, 2, 3], lift, atol=1e-9)
    assert CURB_HEIGHT > 0  # sidewalks still stand above the road


@pytest.mark.parametrize('rate, stride', [(20.0, 2), (10.0, 1), (2.0, 1)])
def test_dataset_takes_past_scans_at_the_sensor_stride(tmp_path, rate,
                                                       stride):
    profile = coarse('hdl32e', scan_rate=rate, name=f'h32-{rate:g}')
    write_sequence(str(tmp_path), '00', 16, seed=2, sensor=profile)
    ds = SemanticKittiMOSDataset(data_root=str(tmp_path), sequences=['00'],
                                 sensor='auto')
    res = LoadMOSScans(num_past=7)(ds.get_data_info(15))
    assert [s['index'] for s in res['sweeps']] == [
        max(15 - k * stride, 0) for k in range(1, 8)]
    assert [s['age'] for s in res['sweeps']] == list(range(1, 8))
    span = (15 - res['sweeps'][-1]['index']) / rate
    assert span == pytest.approx(profile.window_span(7))
    # the written times agree with the rate the stride was chosen for
    times = np.loadtxt(tmp_path / 'sequences' / '00' / 'times.txt')
    np.testing.assert_allclose(np.diff(times), 1 / rate)
    # without a profile (SemanticKITTI) every scan is a past scan, and a
    # fixed stride overrides the profile's
    plain = SemanticKittiMOSDataset(data_root=str(tmp_path),
                                    sequences=['00'])
    res = LoadMOSScans(num_past=7)(plain.get_data_info(15))
    assert [s['index'] for s in res['sweeps']] == list(range(14, 7, -1))
    res = LoadMOSScans(num_past=2, stride=3)(ds.get_data_info(15))
    assert [s['index'] for s in res['sweeps']] == [12, 9]


def test_stride_must_be_sensor_or_positive():
    with pytest.raises(ValueError, match='stride'):
        LoadMOSScans(stride=0)
    with pytest.raises(ValueError, match='stride'):
        LoadMOSScans(stride='auto')


def test_unknown_scene_detail_is_refused(tmp_path):
    with pytest.raises(ValueError, match='scene detail'):
        SyntheticSequence(1, scene_detail='fancy')
    assert BOX == 0  # the primitive kinds the checks above rely on


def test_a_preset_at_another_rate_keeps_its_noise():
    from kdmos_plugin.synthetic.sensors import (SENSOR_NOISE, resolve_sensors,
                                                sensor_noise)
    (slow, ) = resolve_sensors(['hdl32e'], 2.0, 1)
    assert slow.name == 'hdl32e-2hz'
    assert sensor_noise(slow) == SENSOR_NOISE['hdl32e']
    (vlp, ) = resolve_sensors(['vlp16'], 20.0, 1)
    assert sensor_noise(vlp) == SENSOR_NOISE['vlp16']


def test_tool_scene_detail_and_horizontal_resolution(tmp_path):
    import importlib.util
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_data', repo / 'tools/make_synthetic_data.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    args = ['--sequences', '00', '--scans', '1', '--seed', '3',
            '--sensor', 'vlp16']
    tool.main([str(tmp_path / 'rich'), *args, '--scene-detail', 'rich',
               '--horizontal-resolution', '2'])
    tool.main([str(tmp_path / 'plain'), *args, '--horizontal-resolution',
               '2'])
    seq = tmp_path / 'rich' / 'sequences' / '00'
    stored = get_profile(str(seq / 'sensor.json'))
    assert stored.horizontal_resolution == 2.0 and stored.num_columns == 180
    assert stored.name == 'vlp16'
    rich = np.fromfile(seq / 'labels' / '000000.label', np.uint32)
    plain = np.fromfile(tmp_path / 'plain' / 'sequences' / '00' / 'labels' /
                        '000000.label', np.uint32)
    assert len(rich) <= 16 * 180 and len(plain) <= 16 * 180
    assert not np.array_equal(rich, plain)  # another scene
    with pytest.raises(SystemExit):
        tool.parse_args([str(tmp_path / 'x'), '--horizontal-resolution',
                         '2'])
