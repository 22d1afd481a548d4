"""Sensor profiles: the facts of a LiDAR that the MOS pipeline adapts to.

A :class:`SensorProfile` states the beam geometry (beams, vertical field of
view or the list of beam elevations, horizontal resolution), the range, the
mounting height above the road, the scan rate and how the sensor reports
intensity. The pipeline uses it for three things:

* intensity normalisation (:meth:`SensorProfile.normalize_intensity`): the
  model was trained on KITTI remission in ``[0, 1]``; a sensor that reports
  0-255 is divided by 255, a sensor without intensity gets a constant;
* the polar grid bounds (:meth:`SensorProfile.polar_bounds`): the model
  learned heights relative to the road, so the z bounds follow the mounting
  height; rho and phi (and so the cell size the model learned) stay;
* the temporal stride of the past scans (:meth:`SensorProfile.scan_stride`):
  the K past scans should span the time of the training window (K scans at
  10 Hz); at 20 Hz every 2nd scan is taken.

Presets (``SENSOR_PROFILES``, looked up by :func:`get_profile`, case and
``-``/``_`` insensitive, with aliases such as ``semantickitti`` and
``nuscenes``): ``hdl64e``, ``hdl32e``, ``vlp16``, ``os1-64``, ``os1-128``.
A profile can also be a YAML or JSON file of the same fields (read with a
safe loader; unknown or missing fields are an error naming the file):

.. code-block:: yaml

    name: my-vlp16
    beams: 16
    vertical_fov: [-15.0, 15.0]      # lowest, highest elevation [deg]
    horizontal_resolution: 0.2       # [deg]
    max_range: 100.0                 # [m]
    mounting_height: 1.2             # optical centre above the road [m]
    scan_rate: 10.0                  # [Hz]
    intensity_scale: 255.0           # null: the sensor has no intensity
    ego_body: [-2.2, 1.2, -0.85, 0.85, -1.7, -0.5]  # optional: the box of
                                     # the own car the sensor sees [m]

>>> profile = get_profile('hdl32e')
>>> profile.scan_stride()            # 20 Hz against the 10 Hz training
2
>>> points = profile.normalize_points(raw_points)   # intensity in [0, 1]
"""
import dataclasses
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from ..utils.atomic_files import write_text_atomic

PathLike = Union[str, os.PathLike]

#: The scan rate of the training data (SemanticKITTI, 10 Hz) [Hz].
TRAINED_SCAN_RATE = 10.0


class SensorProfileError(ValueError):
    """A sensor profile (file or fields) is invalid; the message names it."""


@dataclass(frozen=True)
class SensorProfile:
    """The facts of one LiDAR.

    Attributes:
        name: Short name (the preset key for presets).
        beams: Number of beams (rows) B.
        vertical_fov: (lowest, highest) beam elevation [deg].
        horizontal_resolution: Azimuth step between firings [deg] at
            ``scan_rate``.
        max_range: Farthest return [m].
        mounting_height: Optical centre above the road [m].
        scan_rate: Revolutions a second [Hz].
        intensity_scale: Full-scale value of the reported intensity:
            ``1.0`` (KITTI remission in [0, 1]), ``255.0`` (8-bit), or
            ``None`` for a sensor without intensity.
        intensity_fill: Intensity fed to the model when the sensor has none
            (``intensity_scale=None``) or a recording lacks the field.
        min_range: Nearest return [m].
        elevations: Beam elevations [deg], top beam first, when they are
            not evenly spread over ``vertical_fov`` (e.g. the two blocks of
            the HDL-64E); ``None`` = evenly spread.
        intensity_field: The PointCloud2 / PCD / PLY field that holds the
            intensity (other common names are tried after it).
        description: Where the facts come from, free text.
        ego_body: The part of the ego vehicle the sensor sees, as a box
            ``(x_min, x_max, y_min, y_max, z_min, z_max)`` in the sensor
            frame [m] (x forward, z up; the sensor outside it, e.g. above
            the roof); ``None`` (default): the sensor sees nothing of its
            vehicle. The synthetic generator casts the rays against it
            (:mod:`kdmos_plugin.synthetic`); the rest of the pipeline does
            not read it.
    """
    name: str
    beams: int
    vertical_fov: Tuple[float, float]
    horizontal_resolution: float
    max_range: float
    mounting_height: float
    scan_rate: float
    intensity_scale: Optional[float] = 1.0
    intensity_fill: float = 0.0
    min_range: float = 0.5
    elevations: Optional[Tuple[float, ...]] = None
    intensity_field: str = 'intensity'
    description: str = ''
    ego_body: Optional[Tuple[float, ...]] = None

    def __post_init__(self) -> None:
        # normalise sequences to tuples (hashable, frozen) and check facts
        object.__setattr__(self, 'vertical_fov',
                           tuple(float(v) for v in self.vertical_fov))
        if self.elevations is not None:
            object.__setattr__(self, 'elevations',
                               tuple(float(v) for v in self.elevations))
        if self.ego_body is not None:
            object.__setattr__(self, 'ego_body',
                               tuple(float(v) for v in self.ego_body))
        problems = self._problems()
        if problems:
            raise SensorProfileError(
                f'sensor profile {self.name!r}: ' + '; '.join(problems))

    def _problems(self) -> list:
        out = []
        if not isinstance(self.name, str) or not self.name:
            out.append('name must be a non-empty string')
        if isinstance(self.beams, bool) or not isinstance(self.beams, int) \
                or self.beams < 1:
            out.append(f'beams must be an int >= 1, got {self.beams!r}')
        if len(self.vertical_fov) != 2 or \
                not self.vertical_fov[0] < self.vertical_fov[1] or \
                not all(-90 <= v <= 90 for v in self.vertical_fov):
            out.append('vertical_fov must be [lowest, highest] elevation in '
                       f'degrees within [-90, 90], got {self.vertical_fov}')
        for key in ('horizontal_resolution', 'max_range', 'scan_rate'):
            value = getattr(self, key)
            if not _is_number(value) or not value > 0:
                out.append(f'{key} must be a number > 0, got {value!r}')
        if not _is_number(self.min_range) or self.min_range < 0 or (
                _is_number(self.max_range)
                and self.min_range >= self.max_range):
            out.append(f'min_range must be in [0, max_range), got '
                       f'{self.min_range!r}')
        if not _is_number(self.mounting_height):
            out.append(f'mounting_height must be a number [m], got '
                       f'{self.mounting_height!r}')
        if self.intensity_scale is not None and (
                not _is_number(self.intensity_scale)
                or not self.intensity_scale > 0):
            out.append('intensity_scale must be a number > 0 or null, got '
                       f'{self.intensity_scale!r}')
        if not _is_number(self.intensity_fill):
            out.append(f'intensity_fill must be a number, got '
                       f'{self.intensity_fill!r}')
        if self.elevations is not None and isinstance(self.beams, int):
            el = self.elevations
            if len(el) != self.beams:
                out.append(f'elevations holds {len(el)} angles for '
                           f'{self.beams} beams')
            elif any(lower > upper for upper, lower in zip(el, el[1:])):
                out.append('elevations must be listed top beam first '
                           '(descending)')
            elif len(self.vertical_fov) == 2 and not (
                    self.vertical_fov[0] - 1e-6 <= min(el)
                    and max(el) <= self.vertical_fov[1] + 1e-6):
                out.append(f'elevations span [{min(el)}, {max(el)}] deg, '
                           f'outside vertical_fov {self.vertical_fov}')
        if not isinstance(self.intensity_field, str) or \
                not self.intensity_field:
            out.append('intensity_field must be a non-empty string')
        if self.ego_body is not None:
            box = self.ego_body
            if len(box) != 6 or not all(
                    lo < hi for lo, hi in zip(box[::2], box[1::2])):
                out.append('ego_body must be [x_min, x_max, y_min, y_max, '
                           f'z_min, z_max] with min < max, got {list(box)}')
            elif all(lo < 0 < hi for lo, hi in zip(box[::2], box[1::2])):
                out.append(f'ego_body {list(box)} holds the sensor itself '
                           '(the origin)')
        return out

    # ------------------------------------------------------------------
    # geometry
    @property
    def num_columns(self) -> int:
        """Firings a revolution, ``round(360 / horizontal_resolution)``."""
        return int(round(360.0 / self.horizontal_resolution))

    def elevation_angles(self) -> np.ndarray:
        """Beam elevations, top beam first.

        Returns:
            np.ndarray: (B,) float64 elevations [rad], descending; the
            listed ``elevations`` or ``beams`` angles evenly spread over
            ``vertical_fov`` (one beam: the middle of the field of view).
        """
        if self.elevations is not None:
            deg = np.asarray(self.elevations, dtype=np.float64)
        elif self.beams == 1:
            deg = np.array([sum(self.vertical_fov) / 2.0])
        else:
            deg = np.linspace(self.vertical_fov[1], self.vertical_fov[0],
                              self.beams)
        return np.deg2rad(deg)

    def height_offset(self, trained: Optional['SensorProfile'] = None
                      ) -> float:
        """``mounting_height - trained.mounting_height`` [m]: adding it to
        the z of this sensor's points puts the road where the training
        sensor (HDL-64E by default) saw it, the same as shifting the grid
        bounds by :meth:`polar_bounds` (and it also moves the fixed z window
        of the motion features)."""
        trained = trained or SENSOR_PROFILES['hdl64e']
        return float(self.mounting_height - trained.mounting_height)

    def polar_bounds(
        self,
        min_bound: Sequence[float] = (1.85, -math.pi, -4.0),
        max_bound: Sequence[float] = (50.15, math.pi, 2.0),
        trained: Optional['SensorProfile'] = None,
    ) -> Tuple[list, list]:
        """The polar grid bounds for this sensor.

        The model learned heights relative to the road: the z bounds of the
        training grid are shifted by the difference of mounting heights
        (a sensor mounted 0.5 m lower sees the road 0.5 m higher in its own
        frame). rho and phi stay, so the cells keep the size the model
        learned; a sensor whose ``max_range`` is shorter than the outer rho
        bound leaves the outer cells empty.

        Args:
            min_bound: (rho [m], phi [rad], z [m]) lower bounds of the
                training grid (the reference grid by default).
            max_bound: Upper bounds of the training grid.
            trained: The sensor of the training data (HDL-64E by default).

        Returns:
            tuple: (min_bound, max_bound) as lists of 3 floats.
        """
        shift = self.height_offset(trained)
        lo = [float(v) for v in min_bound]
        hi = [float(v) for v in max_bound]
        lo[2] -= shift
        hi[2] -= shift
        return lo, hi

    # ------------------------------------------------------------------
    # time
    def scan_stride(self, trained_rate: float = TRAINED_SCAN_RATE) -> int:
        """Every how many scans a past scan is taken.

        The K past scans should span the time of the training window
        (K / ``trained_rate`` seconds): ``round(scan_rate / trained_rate)``,
        so 2 at 20 Hz, 1 at 10 Hz. A sensor slower than the training data
        (e.g. 2 Hz labelled keyframes) cannot be sampled more densely: the
        stride is 1 and the K past keyframes span a longer time
        (:meth:`window_span`; 3.5 s instead of 0.7 s for K = 7 at 2 Hz), so
        objects move farther between the scans than in training.

        Args:
            trained_rate: Scan rate of the training data [Hz].

        Returns:
            int: The stride, >= 1.
        """
        return max(1, int(round(self.scan_rate / float(trained_rate))))

    def window_span(self, num_past: int,
                    trained_rate: float = TRAINED_SCAN_RATE) -> float:
        """Time spanned by ``num_past`` past scans at :meth:`scan_stride`
        [s] (0.7 s for 7 past scans of a 10 or 20 Hz sensor)."""
        return num_past * self.scan_stride(trained_rate) / self.scan_rate

    # ------------------------------------------------------------------
    # intensity
    def normalize_intensity(self, raw: Optional[np.ndarray],
                            num_points: Optional[int] = None) -> np.ndarray:
        """Intensity as the model saw it in training (0-1 remission).

        Args:
            raw: (N,) reported intensity of any numeric dtype, or ``None``
                when the recording has no intensity field.
            num_points: N, needed when ``raw`` is ``None``.

        Returns:
            np.ndarray: (N,) float32 ``raw / intensity_scale`` clipped to
            [0, 1]; ``intensity_fill`` everywhere for a sensor without
            intensity (``intensity_scale=None``) or ``raw=None``, and where
            ``raw`` is NaN (a recording without an intensity field).
        """
        if raw is None or self.intensity_scale is None:
            n = len(raw) if raw is not None else num_points
            if n is None:
                raise ValueError('normalize_intensity(None) needs num_points')
            return np.full(int(n), self.intensity_fill, dtype=np.float32)
        raw = np.asarray(raw)
        values = raw.astype(np.float32) / np.float32(self.intensity_scale)
        values = np.clip(values, np.float32(0.0), np.float32(1.0))
        if raw.dtype.kind == 'f':  # NaN: the recording has no intensity
            values[np.isnan(values)] = np.float32(self.intensity_fill)
        return values

    def normalize_points(self, points: np.ndarray) -> np.ndarray:
        """``points`` (N, 4) x, y, z [m], raw intensity -> (N, 4) float32
        with :meth:`normalize_intensity` in column 3 (a new array)."""
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 4:
            raise ValueError(f'expected (N, 4) points, got {points.shape}')
        out = points.astype(np.float32, copy=True)
        out[:, 3] = self.normalize_intensity(points[:, 3])
        return out

    # ------------------------------------------------------------------
    # files
    def to_dict(self) -> dict:
        """The fields as plain data (lists for tuples)."""
        out = dataclasses.asdict(self)
        out['vertical_fov'] = list(self.vertical_fov)
        if self.elevations is not None:
            out['elevations'] = list(self.elevations)
        if self.ego_body is not None:
            out['ego_body'] = list(self.ego_body)
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = 'sensor profile') \
            -> 'SensorProfile':
        """Build from plain data, naming ``source`` in every error.

        Raises:
            SensorProfileError: Not a mapping, unknown or missing fields,
                or invalid values.
        """
        if not isinstance(data, dict):
            raise SensorProfileError(
                f'{source}: expected a mapping of profile fields, got '
                f'{type(data).__name__}')
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SensorProfileError(
                f'{source}: unknown fields {unknown}; known: {sorted(names)}')
        missing = sorted(required - set(data))
        if missing:
            raise SensorProfileError(f'{source}: missing fields {missing}')
        for key in ('vertical_fov', 'elevations', 'ego_body'):
            value = data.get(key)
            if value is not None and (
                    not isinstance(value, (list, tuple))
                    or not all(_is_number(v) for v in value)):
                raise SensorProfileError(
                    f'{source}: {key} must be a list of numbers, got '
                    f'{value!r}')
        try:
            return cls(**data)
        except SensorProfileError as err:
            raise SensorProfileError(f'{source}: {err}') from None

    def save(self, path: PathLike) -> None:
        """Write the profile as YAML (``.yaml``/``.yml``) or JSON (other
        suffixes), atomically (a temporary file renamed into place)."""
        path = os.fspath(path)
        data = self.to_dict()
        if path.lower().endswith(('.yaml', '.yml')):
            import yaml
            text = yaml.safe_dump(data, sort_keys=False)
        else:
            text = json.dumps(data, indent=2) + '\n'
        write_text_atomic(path, text)

    @classmethod
    def load(cls, path: PathLike) -> 'SensorProfile':
        """Read a YAML or JSON profile file (safe loaders only: the file
        cannot make us run code).

        Raises:
            FileNotFoundError: The file does not exist.
            SensorProfileError: Unparseable, or invalid fields (named).
        """
        path = os.fspath(path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'sensor profile file not found: {path}')
        with open(path) as f:
            text = f.read()
        if path.lower().endswith('.json'):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise SensorProfileError(
                    f'{path}: not valid JSON ({err})') from None
        else:  # YAML (a superset of JSON)
            import yaml
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise SensorProfileError(
                    f'{path}: not valid YAML ({err})') from None
        return cls.from_dict(data, source=path)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _hdl64e_elevations() -> Tuple[float, ...]:
    # two blocks of 32 lasers: ~1/3 deg from +2.0 to -8.33 deg, ~1/2 deg
    # from -8.83 to -24.8 deg (the synthetic LiDAR uses the same angles)
    upper = np.linspace(2.0, -8.33, 32)
    lower = np.linspace(-8.83, -24.8, 32)
    return tuple(float(v) for v in np.concatenate([upper, lower]))


#: The car of nuScenes as its roof-mounted HDL-32E sees it, in the sensor
#: frame [m]: the bonnet, roof and boot of a 4.1 m x 1.8 m car (a Renault
#: Zoe) as one box whose top lies 0.5 m below the optical centre (the
#: sensor stands on a mount; the roof curves down), the sensor a little
#: ahead of the middle. Rough figures (nuScenes scans hold points on the
#: own car within about 2.5 m), not a measured outline.
NUSCENES_EGO_BODY = (-2.2, 1.2, -0.85, 0.85, -1.69, -0.5)

#: The presets, by key. Mounting heights are those of the datasets named;
#: a sensor on your own vehicle: copy the preset into a file and set yours.
SENSOR_PROFILES: Dict[str, SensorProfile] = {}
#: Other names of the presets (``semantickitti`` -> ``hdl64e``).
PROFILE_ALIASES: Dict[str, str] = {}


def _key(name: str) -> str:
    return name.lower().replace('-', '').replace('_', '').replace(' ', '')


def register_profile(profile: SensorProfile,
                     aliases: Iterable[str] = (),
                     force: bool = False) -> SensorProfile:
    """Add a profile to :data:`SENSOR_PROFILES` under its name (and
    aliases), so that configs and tools can name it.

    Raises:
        KeyError: The name or an alias is taken and ``force`` is False.
    """
    names = [profile.name, *aliases]
    for name in names:
        taken = _key(name) in {_key(k) for k in SENSOR_PROFILES} or \
            _key(name) in PROFILE_ALIASES
        if taken and not force:
            raise KeyError(f'sensor profile name {name!r} is taken')
    SENSOR_PROFILES[profile.name] = profile
    for alias in aliases:
        PROFILE_ALIASES[_key(alias)] = profile.name
    return profile


register_profile(SensorProfile(
    name='hdl64e', beams=64, vertical_fov=(-24.8, 2.0),
    elevations=_hdl64e_elevations(), horizontal_resolution=0.17,
    max_range=120.0, min_range=0.9, mounting_height=1.73, scan_rate=10.0,
    intensity_scale=1.0,
    description='Velodyne HDL-64E as in KITTI / SemanticKITTI (the '
    'training sensor): remission in [0, 1], 10 Hz, 1.73 m above the road'),
    aliases=('semantickitti', 'kitti', 'velodyne-hdl64e'))
register_profile(SensorProfile(
    name='hdl32e', beams=32, vertical_fov=(-30.67, 10.67),
    horizontal_resolution=0.33, max_range=100.0, min_range=1.0,
    mounting_height=1.84, scan_rate=20.0, intensity_scale=255.0,
    ego_body=NUSCENES_EGO_BODY,
    description='Velodyne HDL-32E as in nuScenes: 20 Hz sweeps (labelled '
    'keyframes at 2 Hz), intensity 0-255, about 1.84 m above the road on '
    'the roof of a small car whose roof its lower beams see'),
    aliases=('nuscenes', 'velodyne-hdl32e'))
register_profile(SensorProfile(
    name='vlp16', beams=16, vertical_fov=(-15.0, 15.0),
    horizontal_resolution=0.2, max_range=100.0, min_range=0.5,
    mounting_height=1.73, scan_rate=10.0, intensity_scale=255.0,
    description='Velodyne VLP-16 (Puck) at 10 Hz, intensity 0-255 as the '
    'ROS driver publishes it; set mounting_height to yours'),
    aliases=('puck', 'velodyne-vlp16'))
register_profile(SensorProfile(
    name='os1-64', beams=64, vertical_fov=(-22.5, 22.5),
    horizontal_resolution=360.0 / 1024, max_range=120.0, min_range=0.3,
    mounting_height=1.73, scan_rate=10.0, intensity_scale=255.0,
    intensity_field='reflectivity',
    description='Ouster OS1-64 in 1024x10 mode: 45 deg vertical field of '
    'view, reflectivity 0-255; set mounting_height to yours'),
    aliases=('ouster-os1-64', 'os164'))
register_profile(SensorProfile(
    name='os1-128', beams=128, vertical_fov=(-22.5, 22.5),
    horizontal_resolution=360.0 / 1024, max_range=120.0, min_range=0.3,
    mounting_height=1.73, scan_rate=10.0, intensity_scale=255.0,
    intensity_field='reflectivity',
    description='Ouster OS1-128 in 1024x10 mode: 45 deg vertical field of '
    'view, reflectivity 0-255; set mounting_height to yours'),
    aliases=('ouster-os1-128', 'os1128'))


def get_profile(name_or_path: Union[str, os.PathLike, SensorProfile, None]
                = None) -> SensorProfile:
    """A preset by name, a profile file, or the profile itself.

    Args:
        name_or_path: A preset name or alias (case, ``-`` and ``_``
            ignored), a ``.yaml``/``.yml``/``.json`` file, a
            :class:`SensorProfile` (returned as is), or ``None`` for the
            training sensor (``hdl64e``).

    Returns:
        SensorProfile: The profile.

    Raises:
        SensorProfileError: An unknown name (the presets are listed) or an
            invalid file.
        FileNotFoundError: A profile file path that does not exist.
    """
    if name_or_path is None:
        return SENSOR_PROFILES['hdl64e']
    if isinstance(name_or_path, SensorProfile):
        return name_or_path
    text = os.fspath(name_or_path)
    if osp.isfile(text) or text.lower().endswith(('.yaml', '.yml', '.json')):
        return SensorProfile.load(text)
    key = _key(text)
    for name, profile in SENSOR_PROFILES.items():
        if _key(name) == key:
            return profile
    if key in PROFILE_ALIASES:
        return SENSOR_PROFILES[PROFILE_ALIASES[key]]
    raise SensorProfileError(
        f'unknown sensor profile {text!r}: neither a preset ('
        f'{", ".join(SENSOR_PROFILES)}; aliases '
        f'{", ".join(sorted(PROFILE_ALIASES))}) nor a profile file')


def profile_table() -> str:
    """The presets as a Markdown table (for the README and ``--help``)."""
    rows = ['| preset | beams | vertical FOV [deg] | az. step [deg] | '
            'range [m] | height [m] | rate [Hz] | intensity | stride |',
            '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, p in SENSOR_PROFILES.items():
        inten = 'none' if p.intensity_scale is None else \
            f'0-{p.intensity_scale:g}'
        rows.append(
            f'| {name} | {p.beams} | {p.vertical_fov[0]:g} to '
            f'{p.vertical_fov[1]:g} | {p.horizontal_resolution:.3g} | '
            f'{p.max_range:g} | {p.mounting_height:g} | {p.scan_rate:g} | '
            f'{inten} | {p.scan_stride()} |')
    return '\n'.join(rows)
