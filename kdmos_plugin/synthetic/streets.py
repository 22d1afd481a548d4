"""Streets: centre lines, the road surface and its ground classes.

A :class:`Street` is a centre line with a road (kerb to kerb), sidewalks
and street coordinates ``(s, lat)``; :func:`path_from_curvature` draws a
random centre line. :class:`StreetLayout` adds the cross street to a
:class:`~.scene.SceneBuilder` and tells whether a footprint keeps clear of
every street; :class:`GroundSurface` gives a :class:`~.scene.Scene` its ray
hits of the ground (road with a crown, kerbs, sidewalks, terrain, lane
markings). World frame: x, y on the road plane, z up, metres.
"""
from typing import Optional, Tuple

import numpy as np
from scipy.spatial import cKDTree

from .semantic_ids import ROAD, SIDEWALK, TERRAIN

#: Height of the sidewalks and of the terrain above the road edge [m].
CURB_HEIGHT = 0.12
#: Height of the road centre above the road edge [m] (a parabolic crown).
ROAD_CROWN = 0.08


def relief_height(relief: Optional[dict], s: np.ndarray,
                  lat: np.ndarray) -> np.ndarray:
    """Height [m] of the road relief of a rich scene at main-street
    coordinates: a grade ``amp * sin(2 pi s / wavelength + phase)`` along
    the street and a camber (cross slope ``camber``, left side up when
    positive) across the road and sidewalks, flat beyond them.

    Args:
        relief: ``amp`` [m], ``wavelength`` [m], ``phase`` [rad],
            ``camber`` [m/m] and ``outer`` (lateral extent of the camber
            [m]); None: flat (zeros).
        s: (n,) positions along the main street [m].
        lat: (n,) lateral offsets [m].

    Returns:
        np.ndarray: (n,) heights [m].
    """
    s = np.asarray(s, dtype=np.float64)
    if relief is None:
        return np.zeros(s.shape)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -relief['outer'],
                  relief['outer'])
    return relief['amp'] * np.sin(2 * np.pi * s / relief['wavelength']
                                  + relief['phase']) + relief['camber'] * lat


def relief_grade(relief: Optional[dict], s: np.ndarray) -> np.ndarray:
    """(n,) slope ``d height / d s`` of :func:`relief_height` along the
    street (0 without relief)."""
    s = np.asarray(s, dtype=np.float64)
    if relief is None:
        return np.zeros(s.shape)
    k = 2 * np.pi / relief['wavelength']
    return relief['amp'] * k * np.cos(k * s + relief['phase'])


def ground_undulation(waves: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Height [m] of the ground undulation at points ``xy (n, 2)``; waves
    (K, 4) rows ``amplitude [m], kx, ky [rad/m], phase``."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    h = np.zeros(len(xy))
    for amp, kx, ky, phase in waves:  # no BLAS: slow on a busy machine
        h += amp * np.sin(kx * xy[:, 0] + ky * xy[:, 1] + phase)
    return h


class Street:
    """A street along a centre line sampled every ``step`` metres.

    Args:
        xy: (M, 2) centre-line samples [m].
        s: (M,) arc-length parameter of the samples [m], increasing.
        heading: (M,) direction of increasing ``s`` [rad].
        half_width: Half the road width, kerb to kerb [m].
        sidewalk: Sidewalk width [m].
        lane_offset: Distance of the lane centres from the centre line [m].
    """

    def __init__(self, xy, s, heading, half_width, sidewalk, lane_offset):
        self.xy = np.asarray(xy, dtype=np.float64)
        self.s = np.asarray(s, dtype=np.float64)
        self.heading = np.unwrap(np.asarray(heading, dtype=np.float64))
        self.half_width = float(half_width)
        self.sidewalk = float(sidewalk)
        self.lane_offset = float(lane_offset)
        self.tangent = np.stack([np.cos(self.heading),
                                 np.sin(self.heading)], axis=1)
        self.normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]],
                               axis=1)
        self._tree = cKDTree(self.xy)
        self.straight = bool(np.ptp(self.heading) < 1e-9) and len(self.s) > 1

    @property
    def outer(self) -> float:
        """Lateral distance of the sidewalk's outer edge [m]."""
        return self.half_width + self.sidewalk

    def frame(self, xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray,
                                             np.ndarray]:
        """Street coordinates of world points.

        Args:
            xy: (n, 2) points [m].

        Returns:
            tuple: (n,) ``s`` along the street, (n,) signed lateral offset
            (positive = left of the direction of increasing ``s``), (n,)
            bool, the point lies beside the sampled part of the street.
        """
        s, lat, inside, _ = self.project(xy)
        return s, lat, inside

    def project(self, xy: np.ndarray):
        """:meth:`frame` plus (n,) the index of the nearest sample."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.straight:  # closed form: the sample at the projection
            u = (xy[:, 0] - self.xy[0, 0]) * self.tangent[0, 0] + \
                (xy[:, 1] - self.xy[0, 1]) * self.tangent[0, 1]
            step = self.s[1] - self.s[0]
            k = np.clip(np.rint(u / step), 0, len(self.s) - 1).astype(np.int64)
        else:  # nearest sample; approximate (eps) is exact enough here
            _, k = self._tree.query(xy, eps=0.5)
        d = xy - self.xy[k]
        along = (d * self.tangent[k]).sum(axis=1)
        lat = (d * self.normal[k]).sum(axis=1)
        s = self.s[k] + along
        inside = (s >= self.s[0]) & (s <= self.s[-1])
        return s, lat, inside, k

    def point(self, s, lat=0.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World position and heading at street coordinates.

        Args:
            s: (n,) or scalar along-street position [m].
            lat: (n,) or scalar lateral offset [m] (positive = left).

        Returns:
            tuple: x, y [m] and heading [rad], each shaped like ``s``.
        """
        s = np.asarray(s, dtype=np.float64)
        x = np.interp(s, self.s, self.xy[:, 0])
        y = np.interp(s, self.s, self.xy[:, 1])
        h = np.interp(s, self.s, self.heading)
        return x - np.sin(h) * lat, y + np.cos(h) * lat, h

    def clearance(self, xy: np.ndarray) -> np.ndarray:
        """(n,) distance [m] of points outside the sidewalk's outer edge
        (negative: on the road or sidewalk); ``inf`` beyond the street's
        ends."""
        _, lat, inside = self.frame(xy)
        return np.where(inside, np.abs(lat) - self.outer, np.inf)

    def road_clearance(self, xy: np.ndarray) -> np.ndarray:
        """(n,) distance [m] of points outside the kerb (negative: on the
        road); ``inf`` beyond the street's ends."""
        _, lat, inside = self.frame(xy)
        return np.where(inside, np.abs(lat) - self.half_width, np.inf)


def path_from_curvature(rng: np.random.Generator, length: float,
                        step: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """A smooth random path: straights and gentle arcs.

    Args:
        rng: Random generator.
        length: Path length [m].
        step: Sample spacing [m].

    Returns:
        tuple: (M, 2) positions [m] starting at the origin heading along
        +x, and (M,) headings [rad].
    """
    n = int(np.ceil(length / step)) + 1
    kappa = np.zeros(n)
    i = 0
    while i < n:
        seg = int(rng.uniform(40, 120) / step)
        if rng.random() < 0.55:
            kappa[i:i + seg] = rng.choice([-1, 1]) * rng.uniform(1 / 250,
                                                                  1 / 70)
        i += seg
    # smooth the curvature so that the heading has no kinks
    ker = np.ones(int(20 / step)) / int(20 / step)
    kappa = np.convolve(kappa, ker, mode='same')
    heading = np.concatenate([[0.0], np.cumsum(kappa[:-1] * step)])
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(
        step * np.stack([np.cos(heading[:-1]), np.sin(heading[:-1])], 1),
        axis=0)])
    return xy, heading


class StreetLayout:
    """The streets of a :class:`~.scene.SceneBuilder` (a mixin).

    Uses the builder's ``rng``, ``streets`` (the main street first),
    ``stops``, ``times`` and :meth:`~.ego_path.EgoPath.ego_s_at`; sets
    ``s_crosswalk`` and ``s_cross`` (positions along the main street [m]).
    """

    def _add_cross_street(self):
        """A straight cross street just ahead of the ego's first stop."""
        rng = self.rng
        main = self.streets[0]
        hw = rng.uniform(5.4, 6.4)
        sw = rng.uniform(2.5, 4.0)
        if self.stops:
            t_stop = self.stops[0][0]
            s_stop = float(self.ego_s_at(t_stop))
        else:
            s_stop = float(self.ego_s_at(self.times[-1] * 0.5)) + 15.0
        gap = rng.uniform(4.0, 6.0)  # ego centre to the crosswalk
        self.s_crosswalk = s_stop + gap
        s_x = self.s_crosswalk + 2.5 + hw
        self.s_cross = s_x
        x0, y0, h0 = main.point(s_x, 0.0)
        h = float(h0) + np.pi / 2 + rng.uniform(-0.15, 0.15)
        s = np.arange(-150.0, 150.0 + 0.5, 0.5)
        xy = np.stack([x0 + s * np.cos(h), y0 + s * np.sin(h)], 1)
        self.streets.append(Street(xy, s, np.full(len(s), h), hw, sw,
                                   rng.uniform(1.6, 1.9)))

    def _clear_of_streets(self, pts: np.ndarray, margin: float,
                          skip: Optional[int] = None,
                          road_only: bool = False) -> bool:
        """True if all points are outside every street's corridor."""
        for k, st in enumerate(self.streets):
            if k == skip:
                continue
            c = st.road_clearance(pts) if road_only else st.clearance(pts)
            if (c < margin).any():
                return False
        return True


class GroundSurface:
    """Ray hits of the ground of a :class:`~.scene.Scene` (a mixin).

    Uses the scene's ``streets``, ``waves`` (ground undulation, see
    :func:`ground_undulation`), ``s_crosswalk`` and ``relief`` (None, or
    the grade and camber of a rich scene, see :func:`relief_height`).
    """

    def ground(self, origin: np.ndarray, D: np.ndarray):
        """Hit of the ground surface.

        The road has a parabolic crown (:data:`ROAD_CROWN` at the centre
        line, 0 at the kerb); sidewalks and terrain lie at
        :data:`CURB_HEIGHT`; everything carries a gentle undulation of a
        few centimetres. The hit is found by fixed-point iteration on the
        height field; the street coordinates of the first guess are found
        once (nearest centre-line sample) and moved along with the hit.

        Args:
            origin: (3,) ray origin in the world [m].
            D: (n, 3) unit directions pointing down.

        Returns:
            tuple: (n,) distance [m], (n,) int32 semantic id (road,
            sidewalk, terrain), (n,) float32 reflectivity (lane markings
            and crosswalk stripes are bright), (n, 3) normals.
        """
        n = len(D)
        dz = -D[:, 2]
        t0 = (origin[2] - 0.5 * CURB_HEIGHT) / dz
        p0 = origin[:2] + t0[:, None] * D[:, :2]
        proj = []
        for st in self.streets:
            s, lat, _, k = st.project(p0)
            proj.append((s, lat, (D[:, :2] * st.tangent[k]).sum(1),
                         (D[:, :2] * st.normal[k]).sum(1)))
        t = t0
        for _ in range(2):  # the height field is flat to a few cm: enough
            cls, refl, base = self._classify(proj, t - t0)
            p = origin[:2] + t[:, None] * D[:, :2]
            t = (origin[2] - base - ground_undulation(self.waves, p)) / dz
        if getattr(self, 'relief', None) is not None:
            t = self._relief_hit(origin, D, proj, t, t0)
        cls, refl, _ = self._classify(proj, t - t0)
        normal = np.zeros((n, 3))
        normal[:, 2] = 1.0
        return t, cls.astype(np.int32), refl.astype(np.float32), normal

    def _height(self, origin, D, proj, t, t0):
        """(n,) ground height [m] under the points at distance ``t`` along
        the rays, relief included."""
        _, _, base = self._classify(proj, t - t0)
        p = origin[:2] + t[:, None] * D[:, :2]
        s0, lat0, ds, dl = proj[0]
        return base + ground_undulation(self.waves, p) + relief_height(
            self.relief, s0 + (t - t0) * ds, lat0 + (t - t0) * dl)

    def _relief_hit(self, origin, D, proj, t, t0, steps: int = 4):
        """Newton steps on ``origin_z + t D_z - height(t) = 0`` from the
        flat ground's hit ``t``: a grade makes the fixed-point iteration
        of flat ground diverge on grazing rays."""
        h = 0.05  # [m] along the ray, for the slope of the height field
        for _ in range(steps):
            f = origin[2] + t * D[:, 2] - self._height(origin, D, proj, t, t0)
            f_h = origin[2] + (t + h) * D[:, 2] - self._height(
                origin, D, proj, t + h, t0)
            slope = np.minimum((f_h - f) / h, -1e-3)  # descending rays
            t = np.maximum(t - f / slope, 0.1)
        return t

    def _classify(self, proj, dt):
        """Ground class, reflectivity and base height [m] of ground points.

        Args:
            proj: Per street ``(s, lat, ds/dt, dlat/dt)`` of the first
                guesses, each (n,).
            dt: (n,) distance along the rays from the first guesses [m].
        """
        n = len(dt)
        on_road = np.zeros(n, bool)
        on_walk = np.zeros(n, bool)
        marking = np.zeros(n, bool)
        road_lat = np.zeros(n)
        for k, (st, (s0, lat0, ds, dl)) in enumerate(zip(self.streets,
                                                        proj)):
            s = s0 + dt * ds
            lat = lat0 + dt * dl
            inside = (s >= st.s[0]) & (s <= st.s[-1])
            alat = np.abs(lat)
            if k == 0:
                road_lat = np.where(inside, lat, 0.0)
            on_road |= inside & (alat < st.half_width)
            on_walk |= inside & (alat < st.outer)
            if k == 0:  # dashed centre line and the crosswalk stripes
                marking |= inside & (alat < 0.07) & (np.mod(s, 9.0) < 3.0)
                marking |= inside & (alat < st.half_width - 0.5) & \
                    (np.abs(s - self.s_crosswalk) < 1.5) & \
                    (np.mod(lat, 1.0) < 0.5)
        cls = np.full(n, TERRAIN)
        cls[on_walk] = SIDEWALK
        cls[on_road] = ROAD
        refl = np.select([cls == ROAD, cls == SIDEWALK], [0.3, 0.4], 0.42)
        refl = np.where(on_road & marking, 0.75, refl)
        height = np.where(on_road, ROAD_CROWN * np.clip(
            1 - (road_lat / self.streets[0].half_width) ** 2, 0, 1),
            CURB_HEIGHT)
        return cls, refl, height
