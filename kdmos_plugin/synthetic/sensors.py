"""Synthetic LiDARs that imitate a sensor profile.

A :class:`~kdmos_plugin.sources.sensor_profile.SensorProfile` states a
sensor's beams and their elevations, horizontal resolution, range limits,
mounting height, scan rate and intensity scale. :func:`lidar_from_profile`
builds the :class:`~.lidar.LidarModel` that casts scans like it, with the
range noise and dropouts of that kind of sensor (:data:`SENSOR_NOISE`), and
:func:`scan_period` gives the time between its scans, which the scene
builder uses for the ego path and the agents: at 20 Hz things move half as
far between two scans as at 10 Hz, at 2 Hz (labelled keyframes) five times
as far.

The noise figures are rough: range noise is about the accuracy the makers
state (HDL-64E and HDL-32E about 2 cm, VLP-16 and Ouster about 3 cm, one
standard deviation taken as that figure); dropout rates are our guesses,
tuned to look like real scans, not measured.

>>> from kdmos_plugin.sources.sensor_profile import get_profile
>>> lidar = lidar_from_profile(get_profile('vlp16'))
>>> lidar.num_beams, lidar.intensity_scale
(16, 255.0)
"""
import dataclasses
import re
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..sources.sensor_profile import SensorProfile, get_profile
from .lidar import LidarModel

#: Range noise [m] and dropouts of each preset (see the module docstring).
SENSOR_NOISE: Dict[str, dict] = {
    'hdl64e': dict(range_noise=0.02, dropout=0.015, far_dropout=0.35),
    'hdl32e': dict(range_noise=0.02, dropout=0.02, far_dropout=0.40),
    'vlp16': dict(range_noise=0.03, dropout=0.02, far_dropout=0.45),
    'os1-64': dict(range_noise=0.03, dropout=0.01, far_dropout=0.40),
    'os1-128': dict(range_noise=0.03, dropout=0.01, far_dropout=0.40),
}
#: The noise of a profile without an entry in :data:`SENSOR_NOISE` (the
#: default synthetic sensor's).
DEFAULT_NOISE = dict(range_noise=0.02, dropout=0.015, far_dropout=0.35)


def sensor_noise(profile: SensorProfile) -> dict:
    """``range_noise`` [m], ``dropout`` and ``far_dropout`` of a profile:
    its preset's entry of :data:`SENSOR_NOISE` (also under the
    ``<preset>-<rate>hz`` name :func:`resolve_sensors` gives a preset at
    another rate), else :data:`DEFAULT_NOISE`."""
    name = profile.name
    base = re.sub(r'-[0-9.]+hz$', '', name)
    return dict(SENSOR_NOISE.get(name, SENSOR_NOISE.get(base,
                                                        DEFAULT_NOISE)))


def lidar_from_profile(profile: Union[str, SensorProfile],
                       **overrides) -> LidarModel:
    """The synthetic LiDAR of a sensor profile.

    Args:
        profile: A :class:`SensorProfile`, a preset name or a profile file
            (see :func:`~kdmos_plugin.sources.sensor_profile.get_profile`).
        **overrides: :class:`~.lidar.LidarModel` fields to set instead
            (e.g. ``range_noise=0.05``).

    Returns:
        LidarModel: ``beams`` rows at the profile's elevations (top beam
        first), ``num_columns`` firings a turn, its range limits and
        mounting height, intensities written on its scale (``x 255``
        rounded for 8-bit sensors, ``intensity_fill`` without intensity).
    """
    profile = get_profile(profile)
    deg = np.rad2deg(profile.elevation_angles())
    fields = dict(
        num_beams=profile.beams,
        num_columns=profile.num_columns,
        height=profile.mounting_height,
        max_range=profile.max_range,
        min_range=profile.min_range,
        beam_elevations_deg=tuple(float(v) for v in deg),
        intensity_scale=profile.intensity_scale,
        intensity_fill=profile.intensity_fill,
        **sensor_noise(profile))
    fields.update(overrides)
    return LidarModel(**fields)


def scan_period(profile: Union[str, SensorProfile]) -> float:
    """Time between two scans of the sensor, ``1 / scan_rate`` [s]."""
    return 1.0 / float(get_profile(profile).scan_rate)


def resolve_sensors(names: Optional[Sequence[Union[str, SensorProfile]]],
                    scan_rate: Optional[float],
                    num_sequences: int,
                    random_seed: int = 0,
                    horizontal_resolution: Optional[float] = None
                    ) -> List[Optional[SensorProfile]]:
    """The profile of each sequence for ``tools/make_synthetic_data.py``.

    Args:
        names: Presets, profile files or profiles, given to the sequences
            in turn; ``['random']``: a :func:`random_profile` a sequence;
            None or empty: no profile (the LiDAR preset).
        scan_rate: A scan rate [Hz] replacing the profiles' (e.g. 2 for
            labelled keyframes); the profile is renamed
            ``<name>-<rate>hz``.
        num_sequences: How many sequences.
        random_seed: Seed of the random profiles.
        horizontal_resolution: An azimuth step [deg] replacing the
            profiles' (coarse scans for smoke runs); the name stays.

    Returns:
        list: ``num_sequences`` profiles (or ``None`` each).

    Raises:
        SensorProfileError: An unknown preset or an invalid file or rate.
        FileNotFoundError: A profile file that does not exist.
    """
    if not names:
        return [None] * num_sequences
    if list(names) == ['random']:  # one random profile a sequence
        rng = np.random.default_rng(int(random_seed))
        profiles = [random_profile(rng, f'random-{k:02d}')
                    for k in range(num_sequences)]
    else:
        profiles = [get_profile(n) for n in names]
    if scan_rate is not None:
        profiles = [dataclasses.replace(
            p, name=f'{p.name}-{scan_rate:g}hz', scan_rate=float(scan_rate))
            for p in profiles]
    if horizontal_resolution is not None:
        profiles = [dataclasses.replace(
            p, horizontal_resolution=float(horizontal_resolution))
            for p in profiles]
    return [profiles[k % len(profiles)] for k in range(num_sequences)]


def random_profile(rng: np.random.Generator, name: str) -> SensorProfile:
    """A random spinning LiDAR, for sensor randomisation.

    Drawn: beams from {16, 32, 64, 128} (evenly spread), the lowest
    elevation in [-30, -15] deg (lower when needed to keep beams 0.3 deg
    apart) and the highest in [2, 22.5] deg, an azimuth
    step in [0.1, 0.4] deg, a scan rate from {2, 10, 20} Hz, a mounting
    height in [1.5, 2.0] m, a range in [80, 120] m, an intensity scale
    from {1, 255, none} and, for half of them, the roof of the own car in
    view (``ego_body``: its top 0.3-0.7 m below the sensor).

    Args:
        rng: The random generator (a seed fixes the profile).
        name: The profile's name.

    Returns:
        SensorProfile: The profile.
    """
    beams = int(rng.choice([16, 32, 64, 128]))
    scale = [1.0, 255.0, None][int(rng.integers(3))]
    low, high = float(rng.uniform(-30.0, -15.0)), float(rng.uniform(2.0, 22.5))
    # beams at least 0.3 deg apart (the calibration jitter keeps the order)
    low = min(low, high - 0.3 * (beams - 1))
    step = float(rng.uniform(0.1, 0.4))  # the draws in their old order
    max_range = float(rng.uniform(80.0, 120.0))
    height = float(rng.uniform(1.5, 2.0))
    rate = float(rng.choice([2.0, 10.0, 20.0]))
    ego_body = None
    if rng.random() < 0.5:  # the sensor sees the roof of its car
        top = float(rng.uniform(0.3, 0.7))
        ego_body = (-float(rng.uniform(1.8, 3.0)),
                    float(rng.uniform(0.8, 2.0)), -0.9, 0.9, 0.15 - height,
                    -top)
    return SensorProfile(
        name=name, beams=beams, vertical_fov=(low, high),
        horizontal_resolution=step, max_range=max_range, min_range=1.0,
        mounting_height=height, scan_rate=rate,
        intensity_scale=scale, intensity_fill=0.0, ego_body=ego_body,
        description='random profile (sensor randomisation)')
