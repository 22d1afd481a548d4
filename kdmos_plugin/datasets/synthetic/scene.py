"""The procedural street: ego trajectory, streets, static structure, agents.

World frame: x, y on the road plane (z = 0 is the road surface), z up,
metres. Time: scan ``i`` is taken at ``t = i / 10`` s (10 Hz).

A scene is a main street whose centre line follows the ego path (the ego
drives in the right lane), a cross street at the ego's first stop, and on
every street: lots with buildings, fences with bushes, parks with trees;
poles, signs, street trees and unlabeled clutter on the sidewalks; parked
cars in the parking lanes; and agents (cars, cyclists, pedestrians) with
their own trajectories: oncoming and cross traffic at many speeds, a car
following the ego, slow cars (1-3 m/s) leaving a parking spot, pedestrians
walking, jogging, standing and crossing, cyclists riding and waiting. An
agent's label is moving (252/253/254) in the scans where it moves faster
than :data:`MOVING_SPEED`, else its static class (10/31/30).
"""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np
from scipy.spatial import cKDTree

from .geometry import (BOX, CYLINDER, ELLIPSOID, Primitives, make_primitives,
                       transform_primitives)

# SemanticKITTI semantic ids used by the generator
UNLABELED, CAR, BICYCLIST, PERSON = 0, 10, 31, 30
ROAD, SIDEWALK, BUILDING, FENCE = 40, 48, 50, 51
VEGETATION, TRUNK, TERRAIN, POLE, SIGN = 70, 71, 72, 80, 81
MOVING_ID = {CAR: 252, BICYCLIST: 253, PERSON: 254}

#: An agent faster than this [m/s] in a scan is labelled moving there.
MOVING_SPEED = 0.2
#: Agents farther than this from the ego vehicle [m] are not simulated.
ACTIVE_RADIUS = 100.0
#: Scan period [s] (10 Hz).
SCAN_PERIOD = 0.1
#: Height of the sidewalks and of the terrain above the road edge [m].
CURB_HEIGHT = 0.12
#: Height of the road centre above the road edge [m] (a parabolic crown).
ROAD_CROWN = 0.08


def ground_undulation(waves: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Height [m] of the ground undulation at points ``xy (n, 2)``; waves
    (K, 4) rows ``amplitude [m], kx, ky [rad/m], phase``."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    h = np.zeros(len(xy))
    for amp, kx, ky, phase in waves:  # no BLAS: slow on a busy machine
        h += amp * np.sin(kx * xy[:, 0] + ky * xy[:, 1] + phase)
    return h


def _wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


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


def ego_speed_profile(rng: np.random.Generator, duration: float,
                      dt: float = 0.01) -> Tuple[np.ndarray, np.ndarray,
                                                 List[Tuple[float, float]]]:
    """A speed profile with cruising, braking, stops and starts.

    The first stop begins at about 30 % of the sequence (so that even a
    one-second sequence holds a standing ego vehicle); longer sequences
    get a stop about every minute.

    Args:
        rng: Random generator.
        duration: Length of the sequence [s].
        dt: Time step of the profile [s].

    Returns:
        tuple: (T,) times [s] from 0 to ``duration + 1``, (T,) speeds
        [m/s], list of ``(start, end)`` stop intervals [s].
    """
    t = np.arange(0.0, duration + 1.0 + dt, dt)
    v_cruise = rng.uniform(6.0, 11.0)
    phase = rng.uniform(0, 2 * np.pi)
    v = v_cruise * (1.0 + 0.15 * np.sin(2 * np.pi * t / 23.0 + phase))
    stops = []
    ts = float(np.clip(0.3 * duration, 0.2, 12.0))
    while ts < duration + 1.0:
        te = ts + float(np.clip(0.25 * duration, 0.3, rng.uniform(3, 8)))
        stops.append((ts, te))
        ts = te + rng.uniform(40, 70)
    a_dec, a_acc = 2.0, 1.5
    for ts, te in stops:
        g = np.where(t < ts, a_dec * (ts - t),
                     np.where(t <= te, 0.0, a_acc * (t - te)))
        v = np.minimum(v, g)
    return t, v, stops


@dataclass
class Agent:
    """A thing with its own trajectory (it may stand, move, or both).

    Attributes:
        sem: Static semantic id (10 car, 30 person, 31 bicyclist).
        inst: Instance id (high 16 bits of the label).
        local: Primitives in the object frame (x forward, y left, z up).
        poses: (N, 3) ``x, y, yaw`` at the scan times [m, rad].
        speed: (N,) speed at the scan times [m/s].
        half_length, half_width: Footprint for collision checks [m].
        kind: A short description (e.g. ``'oncoming car'``).
        active: (N,) bool, the agent is within :data:`ACTIVE_RADIUS` of
            the ego vehicle (elsewhere it is not simulated: not drawn and
            not checked for collisions).
    """
    sem: int
    inst: int
    local: Primitives
    poses: np.ndarray
    speed: np.ndarray
    half_length: float
    half_width: float
    kind: str = ''
    active: np.ndarray = None

    def moving(self, i: int) -> bool:
        """True if the agent moves in scan ``i``."""
        return bool(self.speed[i] > MOVING_SPEED)

    def label(self, i: int) -> int:
        """Semantic id of the agent in scan ``i``."""
        return MOVING_ID[self.sem] if self.moving(i) else self.sem

    def primitives(self, i: int, index: int) -> Primitives:
        """World primitives of the agent in scan ``i``, tagged ``index``."""
        x, y, yaw = self.poses[i]
        out = transform_primitives(self.local, x, y, yaw)
        out.sem[:] = self.label(i)
        out.inst[:] = self.inst
        out.agent[:] = index
        return out


def car_model(rng: np.random.Generator) -> Tuple[Primitives, float, float]:
    """A car, SUV or van of boxes (body and cabin), in its own frame.

    Returns:
        tuple: primitives (label 10), half length and half width [m].
    """
    refl = rng.uniform(0.05, 0.25)
    r = rng.random()
    if r < 0.12:  # van: one tall box and a low bonnet
        L, W, H = rng.uniform(4.8, 5.6), rng.uniform(1.9, 2.1), \
            rng.uniform(2.0, 2.5)
        rows = [[-0.45, 0, (0.3 + H) / 2, L / 2 - 0.45, W / 2, (H - 0.3) / 2,
                 0],
                [L / 2 - 0.45, 0, 0.65, 0.45, W / 2, 0.35, 0]]
    else:
        suv = r < 0.35
        L = rng.uniform(4.3, 4.9) if suv else rng.uniform(3.8, 4.7)
        W = rng.uniform(1.75, 1.95) if suv else rng.uniform(1.65, 1.85)
        z_body = rng.uniform(1.0, 1.15) if suv else rng.uniform(0.85, 1.0)
        H = rng.uniform(1.65, 1.85) if suv else rng.uniform(1.38, 1.55)
        cab = rng.uniform(0.25, 0.32) * L if not suv else 0.36 * L
        z_mid = 0.3 + 0.55 * (z_body - 0.3)
        rows = [[0, 0, (0.3 + z_mid) / 2, L / 2, W / 2,       # lower body
                 (z_mid - 0.3) / 2, 0],
                [-0.02 * L, 0, (z_mid + z_body) / 2, 0.47 * L,  # shoulder
                 0.46 * W, (z_body - z_mid) / 2, 0],
                [-0.08 * L, 0, z_body, cab * 1.25, 0.47 * W,  # cabin: the
                 H - z_body, 0]]                   # top half of an ellipsoid
        return (make_primitives([BOX, BOX, ELLIPSOID], rows, CAR, refl=refl),
                L / 2, W / 2)
    prims = make_primitives(BOX, rows, CAR, refl=refl)
    return prims, L / 2, W / 2


def person_model(rng: np.random.Generator) -> Tuple[Primitives, float,
                                                    float]:
    """A pedestrian: a body cylinder and a head, in its own frame."""
    h = rng.uniform(1.55, 1.9)
    r = rng.uniform(0.2, 0.28)
    refl = rng.uniform(0.25, 0.6)
    prims = Primitives.concat([
        make_primitives(CYLINDER, [0, 0, (h - 0.25) / 2, r, r,
                                   (h - 0.25) / 2, 0], PERSON, refl=refl),
        make_primitives(ELLIPSOID, [0, 0, h - 0.13, 0.11, 0.11, 0.13, 0],
                        PERSON, refl=refl)])
    return prims, r, r


def cyclist_model(rng: np.random.Generator) -> Tuple[Primitives, float,
                                                     float]:
    """A bicycle with its rider (all labelled bicyclist), own frame."""
    refl = rng.uniform(0.2, 0.5)
    h = rng.uniform(1.6, 1.85)
    prims = make_primitives(
        [BOX, CYLINDER, ELLIPSOID],
        [[0, 0, 0.55, 0.85, 0.12, 0.42, 0],            # wheels and frame
         [-0.1, 0, (0.95 + h - 0.25) / 2, 0.22, 0.22, (h - 1.2) / 2, 0],
         [-0.05, 0, h - 0.13, 0.11, 0.11, 0.13, 0]],    # head
        BICYCLIST, refl=refl)
    return prims, 0.9, 0.3


class SceneBuilder:
    """Builds a :class:`Scene` from a random generator.

    Args:
        num_scans: N, scans of the sequence.
        rng: Random generator (all randomness of the layout).
        ego_xy_yaw: Optional (N, 3) ego ``x, y, yaw`` to drive along (e.g.
            a real KITTI trajectory); ``None``: a procedural curved path
            with a speed profile that includes a stop.
        sensor_height: Height of the LiDAR above the road [m].
    """

    def __init__(self, num_scans: int, rng: np.random.Generator,
                 ego_xy_yaw: Optional[np.ndarray] = None,
                 sensor_height: float = 1.73):
        self.n = int(num_scans)
        self.rng = rng
        self.times = np.arange(self.n) * SCAN_PERIOD
        self.sensor_height = sensor_height
        self.next_inst = 1
        self.static_parts: List[Primitives] = []
        self.agents: List[Agent] = []
        self.candidates: list = []
        self.dropped: List[Tuple[str, str]] = []
        self._build_ego(ego_xy_yaw)

    # -- ego and streets -------------------------------------------------
    def _build_ego(self, ego_xy_yaw):
        rng = self.rng
        step = 0.5
        ext = 150.0  # street beyond the driven part, both ends
        half_width = rng.uniform(5.7, 6.7)
        lane = rng.uniform(1.6, 1.9)
        duration = self.n * SCAN_PERIOD
        if ego_xy_yaw is None:
            tg, vg, stops = ego_speed_profile(rng, duration)
            sg = np.concatenate([[0.0], np.cumsum(
                0.5 * (vg[1:] + vg[:-1]) * np.diff(tg))])
            ego_s = np.interp(self.times, tg, sg)
            self.ego_speed_fn = lambda t: np.interp(t, tg, vg)
            path_xy, path_h = path_from_curvature(rng, sg[-1] + 2 * ext, step)
            path_s = np.arange(len(path_xy)) * step - ext
            yaw = np.interp(ego_s, path_s, path_h)
            stop_times = stops
        else:
            ego_xy_yaw = np.asarray(ego_xy_yaw, dtype=np.float64)
            if ego_xy_yaw.shape != (self.n, 3):
                raise ValueError(f'ego trajectory must be ({self.n}, 3), got '
                                 f'{ego_xy_yaw.shape}')
            path_xy, path_h, path_s, ego_s = self._path_from_poses(
                ego_xy_yaw, step, ext)
            yaw = ego_xy_yaw[:, 2]
            sp = np.gradient(ego_s, SCAN_PERIOD) if self.n > 1 else \
                np.zeros(1)
            self.ego_speed_fn = lambda t: np.interp(t, self.times, sp)
            stop_times = self._find_stops(sp)
        # the centre line is the ego path moved left by one lane
        normal = np.stack([-np.sin(path_h), np.cos(path_h)], axis=1)
        main = Street(path_xy + lane * normal, path_s, path_h, half_width,
                      rng.uniform(3.0, 5.0), lane)
        self.streets = [main]
        self.ego_s = ego_s
        x, y, _ = main.point(ego_s, -lane)
        if ego_xy_yaw is not None:
            x, y = ego_xy_yaw[:, 0], ego_xy_yaw[:, 1]
        self.ego_xy = np.stack([x, y], axis=1)
        self.ego_yaw = yaw
        self.stops = stop_times
        # small pitch / roll / bounce of the car body
        ph = rng.uniform(0, 2 * np.pi, 3)
        t = self.times
        accel = np.gradient(self.ego_speed_fn(t), SCAN_PERIOD) \
            if self.n > 1 else np.zeros(1)
        self.ego_pitch = np.deg2rad(0.25 * np.sin(0.9 * t + ph[0])
                                    - 0.12 * np.clip(accel, -3, 3))
        self.ego_roll = np.deg2rad(0.25 * np.sin(0.6 * t + ph[1]))
        self.ego_z = self.sensor_height + 0.01 * np.sin(2.1 * t + ph[2])
        # gentle undulation of the ground (plane waves, a few cm)
        k = rng.uniform(2 * np.pi / 60, 2 * np.pi / 12, 4)
        ang = rng.uniform(0, 2 * np.pi, 4)
        self.waves = np.stack([rng.uniform(0.01, 0.025, 4), k * np.cos(ang),
                               k * np.sin(ang), rng.uniform(0, 2 * np.pi, 4)],
                              axis=1)
        self.ego_z = self.ego_z + ground_undulation(self.waves, self.ego_xy) \
            + ROAD_CROWN * (1 - (lane / half_width) ** 2)

    @staticmethod
    def _path_from_poses(xy_yaw, step, ext):
        """Resample an ego trajectory by arc length, extended both ends."""
        xy = xy_yaw[:, :2]
        d = np.concatenate([[0.0], np.cumsum(
            np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        total = d[-1]
        if total < 1.0:  # a standing ego vehicle: a straight street
            h0 = xy_yaw[0, 2]
            s = np.arange(-ext, ext + step, step)
            p = xy[0] + s[:, None] * np.array([np.cos(h0), np.sin(h0)])
            return p, np.full(len(s), h0), s, d
        s_in = np.arange(0.0, total + step, step)
        px = np.interp(s_in, d, xy[:, 0])
        py = np.interp(s_in, d, xy[:, 1])
        # smooth the heading over about 5 m
        h = np.unwrap(np.arctan2(np.gradient(py), np.gradient(px)))
        k = max(1, int(5.0 / step))
        hp = np.pad(h, k, mode='edge')
        h = np.convolve(hp, np.ones(2 * k + 1) / (2 * k + 1), mode='valid')
        sb = np.arange(-ext, 0.0, step)
        se = np.arange(s_in[-1] + step, s_in[-1] + ext, step)
        before = np.stack([px[0] + sb * np.cos(h[0]),
                           py[0] + sb * np.sin(h[0])], 1)
        after = np.stack([px[-1] + (se - s_in[-1]) * np.cos(h[-1]),
                          py[-1] + (se - s_in[-1]) * np.sin(h[-1])], 1)
        p = np.concatenate([before, np.stack([px, py], 1), after])
        s = np.concatenate([sb, s_in, se])
        hh = np.concatenate([np.full(len(sb), h[0]), h,
                             np.full(len(se), h[-1])])
        return p, hh, s, d

    def _find_stops(self, speed):
        """Stop intervals (speed < 0.3 m/s for >= 1 s) of a trajectory."""
        slow = speed < 0.3
        stops, i = [], 0
        while i < self.n:
            if slow[i]:
                j = i
                while j < self.n and slow[j]:
                    j += 1
                if j - i >= 10 or (i == 0 and j == self.n):
                    stops.append((float(self.times[i]),
                                  float(self.times[j - 1])))
                i = j
            else:
                i += 1
        return stops

    def ego_s_at(self, t):
        """Ego position along the main street at times ``t`` [s]."""
        if self.n == 1:
            return np.full_like(np.asarray(t, dtype=float), self.ego_s[0])
        slope_end = (self.ego_s[-1] - self.ego_s[-2]) / SCAN_PERIOD
        slope_start = (self.ego_s[1] - self.ego_s[0]) / SCAN_PERIOD
        t = np.asarray(t, dtype=float)
        s = np.interp(t, self.times, self.ego_s)
        s = np.where(t > self.times[-1],
                     self.ego_s[-1] + slope_end * (t - self.times[-1]), s)
        return np.where(t < 0, self.ego_s[0] + slope_start * t, s)

    def ego_poses(self) -> np.ndarray:
        """(N, 4, 4) sensor -> world transforms of the scans."""
        out = np.zeros((self.n, 4, 4))
        for i in range(self.n):
            cy, sy = np.cos(self.ego_yaw[i]), np.sin(self.ego_yaw[i])
            cp, sp = np.cos(self.ego_pitch[i]), np.sin(self.ego_pitch[i])
            cr, sr = np.cos(self.ego_roll[i]), np.sin(self.ego_roll[i])
            Rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
            Ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
            Rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
            out[i, :3, :3] = Rz @ Ry @ Rx
            out[i, :3, 3] = (self.ego_xy[i, 0], self.ego_xy[i, 1],
                             self.ego_z[i])
            out[i, 3, 3] = 1.0
        return out

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

    # -- static structure ------------------------------------------------
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

    def _add_static(self, prims: Primitives):
        self.static_parts.append(prims)

    def _tree(self, x, y, big=False):
        rng = self.rng
        th = rng.uniform(1.8, 3.2) * (1.3 if big else 1.0)
        tr = rng.uniform(0.12, 0.25) * (1.4 if big else 1.0)
        cr = rng.uniform(1.5, 3.0) * (1.3 if big else 1.0)
        cz = rng.uniform(1.4, 2.6) * (1.3 if big else 1.0)
        self._add_static(make_primitives(
            CYLINDER, [x, y, th / 2, tr, tr, th / 2, 0], TRUNK,
            refl=rng.uniform(0.3, 0.45)))
        self._add_static(make_primitives(
            ELLIPSOID, [x, y, th + 0.6 * cz, cr, cr * rng.uniform(0.8, 1.0),
                        cz, rng.uniform(0, np.pi)], VEGETATION,
            refl=rng.uniform(0.35, 0.5), porosity=0.15, depth_jitter=0.3))

    def _bush(self, x, y, yaw):
        rng = self.rng
        r = rng.uniform(0.6, 1.6)
        self._add_static(make_primitives(
            ELLIPSOID, [x, y, 0.4 * r, r, r * rng.uniform(0.6, 1.0),
                        rng.uniform(0.5, 0.9) * r, yaw], VEGETATION,
            refl=rng.uniform(0.35, 0.5), porosity=0.1, depth_jitter=0.2))

    def _building(self, k, side, sc, length, depth, height, setback):
        """Box parameters of a building beside street ``k`` at ``sc``, moved
        outwards on curves; ``None`` if it would stand on a street."""
        st = self.streets[k]
        lat = side * (st.outer + setback + depth / 2)
        for _ in range(2):
            x, y, h = st.point(sc, lat)
            params = np.array([x, y, height / 2, length / 2, depth / 2,
                               height / 2, h])
            corners, _ = make_primitives(BOX, params, BUILDING).footprint()
            mids = 0.5 * (corners[0] + np.roll(corners[0], 1, 0))
            pts = np.concatenate([corners[0], mids, [[x, y]]])
            deficit = -min(float(st.clearance(pts).min()), 0.0)
            if deficit > 3.0:
                return None
            if deficit > 0:
                lat += side * (deficit + 0.05)
                continue
            return params if self._clear_of_streets(pts, -0.05) else None
        return None

    def _facade(self, k, side, params, refl):
        """Bays, balconies and steps on the street side of a building."""
        rng = self.rng
        x, y, _, hl, hd, hh, yaw = params
        # the street-side face: towards the street, -side along the normal
        nx, ny = np.sin(yaw) * side, -np.cos(yaw) * side
        tx, ty = np.cos(yaw), np.sin(yaw)
        rows = []
        for _ in range(rng.integers(0, 2 * int(hl // 3) + 2)):
            u = rng.uniform(-hl + 0.8, hl - 0.8)
            w = rng.uniform(0.5, min(2.5, hl))
            depth = rng.uniform(0.2, 0.9)
            z0 = rng.choice([0.0, rng.uniform(2.5, max(2.6, 2 * hh - 2))])
            z1 = min(2 * hh, z0 + rng.uniform(0.8, 3.0))
            c = hd + depth / 2 - 0.05
            rows.append([x + tx * u + nx * c, y + ty * u + ny * c,
                         (z0 + z1) / 2, w / 2, depth / 2, (z1 - z0) / 2,
                         yaw])
        if rows:
            rows = np.array(rows)
            # balconies may hang over the sidewalk, ground-level bays not
            ok = [r[2] - r[5] > 2.4 or self._clear_of_streets(r[None, :2],
                                                                0.3)
                  for r in rows]
            if any(ok):
                self._add_static(make_primitives(BOX, rows[ok], BUILDING,
                                                 refl=refl))

    def _lots(self, k: int, side: int, s0: float, s1: float):
        """Buildings, fences, hedges and parks along one side of a street."""
        rng = self.rng
        st = self.streets[k]
        s = s0
        while s < s1:
            L = rng.uniform(6, 26)
            sc = s + L / 2
            kind = rng.choice(['building', 'fence', 'hedge', 'park'],
                              p=[0.72, 0.12, 0.08, 0.08])
            if kind == 'building':
                depth = rng.uniform(8, 16)
                u = rng.random()
                height = rng.uniform(4, 8) if u < 0.45 else (
                    rng.uniform(8, 15) if u < 0.9 else rng.uniform(15, 24))
                setback = rng.uniform(0.0, 1.0) if rng.random() < 0.7 else \
                    rng.uniform(2, 6)
                # a shorter building fits where the long one does not
                for length, centre in ((L, sc), (L / 2, s + L / 4),
                                       (L / 2, s + 3 * L / 4)):
                    params = self._building(k, side, centre, length, depth,
                                            height, setback)
                    if params is not None:
                        break
                ok = params is not None
                if not ok and rng.random() < 0.8:
                    s += 3.0  # creep towards a corner: try again further on
                    continue
                if ok:
                    refl = rng.uniform(0.25, 0.45)
                    self._add_static(make_primitives(BOX, params, BUILDING,
                                                     refl=refl))
                    self._facade(k, side, params, refl)
                    if rng.random() < 0.3 and height > 6:  # upper storey
                        h2 = rng.uniform(2.5, 5)
                        up = params.copy()
                        up[2] = height + h2 / 2
                        up[3] *= rng.uniform(0.6, 0.95)
                        up[4] *= rng.uniform(0.6, 0.9)
                        up[5] = h2 / 2
                        self._add_static(make_primitives(BOX, up, BUILDING,
                                                         refl=refl))
                    if setback > 2.5 and rng.random() < 0.7:
                        for sb in np.arange(s + 1.5, s + L - 1.0, 2.5):
                            bx, by, bh = st.point(
                                sb, side * (st.outer + setback - 0.9))
                            if self._clear_of_streets(
                                    np.array([[bx, by]]), 1.0):
                                self._bush(bx, by, bh)
            if kind == 'fence':
                fh = rng.uniform(1.0, 2.0)
                por = rng.uniform(0.0, 0.5)
                refl = rng.uniform(0.2, 0.45)
                for fs in np.arange(s, s + L, 4.0):
                    seg = min(4.0, s + L - fs)
                    x, y, h = st.point(fs + seg / 2, side * (st.outer + 0.15))
                    if self._clear_of_streets(np.array([[x, y]]), 0.5,
                                              skip=k):
                        self._add_static(make_primitives(
                            BOX, [x, y, fh / 2, seg / 2, 0.04, fh / 2, h],
                            FENCE, refl=refl, porosity=por))
                for _ in range(rng.integers(1, 5)):
                    bs = rng.uniform(s, s + L)
                    x, y, h = st.point(bs, side * (st.outer
                                                   + rng.uniform(1.5, 4)))
                    if self._clear_of_streets(np.array([[x, y]]), 1.5):
                        if rng.random() < 0.5:
                            self._tree(x, y, big=True)
                        else:
                            self._bush(x, y, h)
            if kind == 'park':
                for _ in range(rng.integers(1, 5)):
                    bs = rng.uniform(s, s + L)
                    x, y, h = st.point(bs, side * (st.outer
                                                   + rng.uniform(2, 20)))
                    if self._clear_of_streets(np.array([[x, y]]), 2.0):
                        self._tree(x, y, big=rng.random() < 0.5)
            if kind == 'hedge' or (kind == 'building' and not ok):
                for hs in np.arange(s + 0.8, s + L - 0.5, 1.6):
                    x, y, h = st.point(hs, side * (st.outer + 0.9))
                    if self._clear_of_streets(np.array([[x, y]]), 1.0):
                        self._bush(x, y, h)
                if rng.random() < 0.3:  # a container or shed: unlabeled
                    x, y, h = st.point(sc, side * (st.outer
                                                   + rng.uniform(3, 6)))
                    if self._clear_of_streets(np.array([[x, y]]), 2.0):
                        ch = rng.uniform(1.0, 2.6)
                        self._add_static(make_primitives(
                            BOX, [x, y, ch / 2, rng.uniform(1, 3),
                                  rng.uniform(1, 2), ch / 2, h],
                            UNLABELED, refl=rng.uniform(0.1, 0.5)))
            s += L + (rng.uniform(0.5, 3) if rng.random() < 0.5 else 0.0)

    def _furniture(self, k: int, side: int, s0: float, s1: float):
        """Poles, signs, street trees and clutter on one sidewalk."""
        rng = self.rng
        st = self.streets[k]
        s = s0 + rng.uniform(0, 20)
        while s < s1:  # poles, some with a sign
            x, y, h = st.point(s, side * (st.half_width + 0.35))
            if self._clear_of_streets(np.array([[x, y]]), 0.3, skip=k,
                                      road_only=True):
                ph = rng.uniform(4.5, 9.0)
                pr = rng.uniform(0.07, 0.15)
                self._add_static(make_primitives(
                    CYLINDER, [x, y, ph / 2, pr, pr, ph / 2, 0], POLE,
                    refl=rng.uniform(0.15, 0.35)))
                if rng.random() < 0.35:
                    self._add_static(make_primitives(
                        BOX, [x, y, rng.uniform(2.1, 2.7), 0.03, 0.32, 0.32,
                              h], SIGN, refl=rng.uniform(0.6, 0.95)))
            s += rng.uniform(18, 40)
        s = s0
        while s < s1:  # stretches of street trees
            stretch = rng.uniform(30, 80)
            if rng.random() < 0.5:
                spacing = rng.uniform(7, 14)
                for ts in np.arange(s, min(s + stretch, s1), spacing):
                    x, y, _ = st.point(ts, side * (st.half_width + 0.9))
                    if self._clear_of_streets(np.array([[x, y]]), 0.5,
                                              skip=k, road_only=True):
                        self._tree(x, y)
            s += stretch
        s = s0
        while s < s1:  # bins and boxes (unlabeled)
            if rng.random() < 0.25:
                x, y, h = st.point(s, side * (st.outer - 0.45))
                if self._clear_of_streets(np.array([[x, y]]), 0.5, skip=k,
                                          road_only=True):
                    ch = rng.uniform(0.8, 1.3)
                    self._add_static(make_primitives(
                        BOX, [x, y, ch / 2, rng.uniform(0.25, 0.5),
                              rng.uniform(0.25, 0.4), ch / 2, h],
                        UNLABELED, refl=rng.uniform(0.1, 0.6)))
            s += 10.0

    def _parked_cars(self, k: int, side: int, s0: float, s1: float,
                     reserved: List[Tuple[float, float]]):
        """Parked cars (label 10) in the parking lane of one side."""
        rng = self.rng
        st = self.streets[k]
        s = s0
        while s < s1:
            if rng.random() < 0.25:  # an empty stretch
                s += rng.uniform(5, 15)
                continue
            model, hl, hw = car_model(rng)
            sc = s + hl
            lat = side * (st.half_width - hw - rng.uniform(0.15, 0.4))
            x, y, h = st.point(sc, lat)
            yaw = float(h) + (0 if side < 0 else np.pi) \
                + rng.normal(0, 0.03)
            free = all(not (a - hl < sc < b + hl) for a, b in reserved)
            if free and self._clear_of_streets(np.array([[x, y]]), 3.0,
                                               skip=k):
                inst = self.next_inst
                self.next_inst += 1
                p = transform_primitives(model, x, y, yaw)
                p.inst[:] = inst
                self._add_static(p)
            s += 2 * hl + rng.uniform(0.6, 3.0)

    # -- agents ------------------------------------------------------------
    def _agent(self, model, traj: Callable, sem: int, kind: str):
        """Add an agent candidate; ``traj(t) -> (x, y, yaw)`` for times
        (n,) [s]. Candidates are placed by :meth:`_resolve_collisions`."""
        self.candidates.append((model, traj, sem, kind))

    def _make_agent(self, model, traj, sem, kind, delay=0.0) -> Agent:
        """Evaluate a candidate's trajectory ``delay`` seconds later."""
        prims, hl, hw = model
        t = self.times - delay
        x, y, yaw = traj(t)
        xa, ya, _ = traj(t - 0.05)
        xb, yb, _ = traj(t + 0.05)
        speed = np.hypot(xb - xa, yb - ya) / 0.1
        poses = np.stack([x, y, yaw], axis=1)
        active = np.hypot(x - self.ego_xy[:, 0], y - self.ego_xy[:, 1]) \
            < ACTIVE_RADIUS
        return Agent(sem, 0, prims, poses, speed, hl, hw, kind, active)

    def _along(self, k, s_fn, lat, backwards=False):
        st = self.streets[k]

        def traj(t):
            x, y, h = st.point(s_fn(t), lat)
            return x, y, h + (np.pi if backwards else 0.0)
        return traj

    @staticmethod
    def _knots(ts, ss):
        """Piecewise-constant-speed motion through ``(t, s)`` knots."""
        ts, ss = np.asarray(ts, float), np.asarray(ss, float)
        return lambda t: np.interp(t, ts, ss)

    def _event_times(self, lo: float, hi: float, gap_lo: float,
                     gap_hi: float) -> List[float]:
        """Random event times in ``[lo, hi)`` with gaps ``U(gap_lo,
        gap_hi)``; the first one drawn lies inside the sequence, so every
        sequence, however short, holds one event."""
        rng = self.rng
        T = self.times[-1] if self.n > 1 else 0.0
        t0 = rng.uniform(0.0, T + 1e-3)
        times = [t0]
        t = t0 - rng.uniform(gap_lo, gap_hi)
        while t >= lo:
            times.append(t)
            t -= rng.uniform(gap_lo, gap_hi)
        t = t0 + rng.uniform(gap_lo, gap_hi)
        while t < hi:
            times.append(t)
            t += rng.uniform(gap_lo, gap_hi)
        return times

    def _populate_agents(self):
        rng = self.rng
        main = self.streets[0]
        T = self.times[-1] if self.n > 1 else 0.0
        hw, lane = main.half_width, main.lane_offset
        bike_lat = hw - 2.9
        t_stop0, t_stop1 = self.stops[0] if self.stops else (T / 2, T / 2)
        # 1) pedestrians crossing the main street at the crosswalk
        for _ in range(rng.integers(2, 5)):
            v = rng.uniform(0.9, 1.6)
            side = rng.choice([-1, 1])
            l0 = side * (hw + rng.uniform(0.6, 1.8))
            l1 = -side * (hw + rng.uniform(0.6, 1.8))
            dur = abs(l1 - l0) / v
            t0 = t_stop1 - dur - rng.uniform(0.3, 3.0)
            sc = self.s_crosswalk + rng.uniform(-1.2, 1.2)
            lat_fn = self._knots([t0, t0 + dur], [l0, l1])
            yaw_off = -side * np.pi / 2

            def traj(t, lat_fn=lat_fn, sc=sc, yaw_off=yaw_off):
                lat = lat_fn(t)
                x, y, h = main.point(np.full_like(lat, sc), lat)
                return x, y, h + yaw_off
            self._agent(person_model(rng), traj, PERSON, 'crossing person')
        # 2) a cyclist waiting beside the ego at the stop, then riding on
        if self.stops:
            v = rng.uniform(3.0, 5.5)
            s_w = self.ego_s_at(t_stop0) + rng.uniform(1.5, 4)
            t_go = t_stop1 + rng.uniform(0.2, 1.0)
            self._agent(cyclist_model(rng), self._along(
                0, self._knots([-100, t_stop0 - 0.5, t_go, t_go + 100],
                               [s_w - v * (t_stop0 + 99.5), s_w, s_w,
                                s_w + 100 * v]), -bike_lat),
                BICYCLIST, 'waiting cyclist')
        # 3) cross traffic on the cross street, some stopping and going
        cross = self.streets[1]
        for tau in self._event_times(-8.0, T + 8, 2.0, 6.0):
            v = rng.uniform(3.0, 12.0)
            d = rng.choice([-1, 1])
            lat = -d * cross.lane_offset
            if rng.random() < 0.3:  # waits at the main street, then goes
                s_w = -d * (main.half_width + 3.5)
                wait = rng.uniform(1.0, 4.0)
                fn = self._knots([tau - 100, tau, tau + wait,
                                  tau + wait + 100],
                                 [s_w - d * 100 * v, s_w, s_w,
                                  s_w + d * 100 * v])
            else:
                fn = self._knots([tau - 100, tau + 100],
                                 [-d * 100 * v, d * 100 * v])
            self._agent(car_model(rng), self._along(1, fn, lat, d < 0), CAR,
                        'cross car')
        # 4) slow cars leaving a parking spot (1-3 m/s)
        self.reserved = {-1: [], 1: []}
        for _ in range(max(1, int(round(T / 12)))):
            tau = rng.uniform(0, max(T, 0.1))
            side = int(rng.choice([-1, 1]))
            v = rng.uniform(1.0, 3.0)
            dist = rng.uniform(10, 25)
            model = car_model(rng)
            s0 = float(self.ego_s_at(tau)) + rng.uniform(-5, 25)
            t0 = tau - rng.uniform(0, dist / v * 0.6)
            lat = side * (hw - model[2] - 0.3)
            back = side > 0  # the left lane drives towards -s
            s1 = s0 + (-dist if back else dist)
            if min(s0, s1) - 30 < self.s_cross < max(s0, s1) + 30:
                s0, s1 = s0 - 70, s1 - 70  # keep clear of the junction
            fn = self._knots([t0, t0 + dist / v], [s0, s1])
            self.reserved[side].append((min(s0, s1) - 4, max(s0, s1) + 4))
            self._agent(model, self._along(0, fn, lat, back), CAR,
                        'slow car')
        # 5) a car following the ego (moves and stops with it)
        if rng.random() < 0.8:
            g0, ph = rng.uniform(10, 15), rng.uniform(0, 2 * np.pi)

            def follow(t, g0=g0, ph=ph):
                s = self.ego_s_at(t)
                return s - g0 - 2.5 * np.sin(s / 17.0 + ph)
            self._agent(car_model(rng), self._along(0, follow, -lane), CAR,
                        'following car')
        # 6) a car ahead that drives away
        v_max = float(np.max(np.gradient(self.ego_s_at(
            np.arange(-1, T + 1, 0.1)), 0.1)))
        v = max(v_max, 5.0) + rng.uniform(1, 3)
        s0 = float(self.ego_s_at(0.0)) + rng.uniform(12, 25)
        self._agent(car_model(rng), self._along(
            0, self._knots([0, 100], [s0, s0 + 100 * v]), -lane), CAR,
            'leading car')
        # 7) oncoming cars meeting the ego at times tau
        for tau in self._event_times(-3.0, T + 3, 1.5, 5.0):
            v = rng.uniform(4.0, 13.0)
            s_m = float(self.ego_s_at(tau))
            self._agent(car_model(rng), self._along(
                0, self._knots([tau - 100, tau + 100],
                               [s_m + 100 * v, s_m - 100 * v]), lane, True),
                CAR, 'oncoming car')
        # 8) cyclists on both bike lanes
        for tau in self._event_times(-4.0, T + 4, 3.0, 8.0):
            v = rng.uniform(2.5, 6.0)
            side = rng.choice([-1, 1])
            s_m = float(self.ego_s_at(tau))
            d = -side
            self._agent(cyclist_model(rng), self._along(
                0, self._knots([tau - 100, tau + 100],
                               [s_m - d * 100 * v, s_m + d * 100 * v]),
                side * bike_lat, d < 0), BICYCLIST, 'cyclist')
        # 9) pedestrians on the sidewalks: walking, jogging, standing
        for k, st in enumerate(self.streets):
            if k == 0:
                lo = float(self.ego_s.min()) - 70
                hi = float(self.ego_s.max()) + 70
            else:
                lo, hi = -70.0, 70.0
            for s in np.arange(lo, hi, 9.0):
                if rng.random() > 0.55:
                    continue
                side = rng.choice([-1, 1])
                lat = side * (st.half_width + rng.uniform(
                    1.6, max(1.65, st.sidewalk - 1.35)))
                u = rng.random()
                v = 0.0 if u < 0.3 else (rng.uniform(0.8, 1.8) if u < 0.85
                                         else rng.uniform(2.2, 3.2))
                d = rng.choice([-1, 1])
                s0 = s + rng.uniform(0, 9)
                fn = self._knots([-100, 100], [s0 - d * 100 * v,
                                               s0 + d * 100 * v])
                self._agent(person_model(rng), self._along(k, fn, lat, d < 0),
                            PERSON, 'walking person' if v else
                            'standing person')
        # 10) cyclists standing on the sidewalk (parked with their rider)
        for _ in range(rng.integers(1, 3)):
            side = rng.choice([-1, 1])
            s0 = float(self.ego_s_at(rng.uniform(0, T + 0.1))) + \
                rng.uniform(-20, 30)
            fn = self._knots([-1, 1], [s0, s0])
            self._agent(cyclist_model(rng), self._along(
                0, fn, side * (hw + 1.5)), BICYCLIST, 'standing cyclist')

    # -- collisions ----------------------------------------------------------
    @staticmethod
    def _overlap(a_xy, a_yaw, a_hl, a_hw, b_xy, b_yaw, b_hl, b_hw):
        """Separating-axis test of oriented rectangles, vectorised."""
        def axes(yaw):
            return (np.stack([np.cos(yaw), np.sin(yaw)], -1),
                    np.stack([-np.sin(yaw), np.cos(yaw)], -1))
        ua, va = axes(a_yaw)
        ub, vb = axes(b_yaw)
        d = b_xy - a_xy
        sep = np.zeros(np.broadcast(a_xy[..., 0], b_xy[..., 0]).shape,
                       dtype=bool)
        for ax in (ua, va, ub, vb):
            ra = a_hl * np.abs((ua * ax).sum(-1)) + \
                a_hw * np.abs((va * ax).sum(-1))
            rb = b_hl * np.abs((ub * ax).sum(-1)) + \
                b_hw * np.abs((vb * ax).sum(-1))
            sep |= np.abs((d * ax).sum(-1)) > ra + rb
        return ~sep

    #: Delays [s] tried, in order, to fit an agent between the others.
    DELAYS = (0.0, 1.5, -1.5, 3.0, -3.0, 4.5, -4.5)

    def _resolve_collisions(self):
        """Place the agent candidates in order of priority: each one with
        the first delay of :attr:`DELAYS` at which it overlaps neither the
        ego vehicle, nor a static thing, nor an earlier agent in any scan;
        a candidate that never fits is dropped (see ``self.dropped``)."""
        static = Primitives.concat(self.static_parts)
        grounded = (static.params[:, 2] - static.params[:, 5]) < 1.0
        s_xy = static.params[grounded, :2]
        kind = static.kind[grounded]
        s_hl = static.params[grounded, 3]
        s_hw = np.where(kind == CYLINDER, s_hl, static.params[grounded, 4])
        s_yaw = np.where(kind == CYLINDER, 0.0, static.params[grounded, 6])
        self.agents = []
        for cand in self.candidates:
            reason = ''
            for delay in self.DELAYS:
                ag = self._make_agent(*cand, delay=delay)
                reason = self._conflict(ag, s_xy, s_yaw, s_hl, s_hw)
                if not reason:
                    self.agents.append(ag)
                    break
            if reason:
                self.dropped.append((cand[3], reason))

    def _conflict(self, ag, s_xy, s_yaw, s_hl, s_hw) -> str:
        """What an agent overlaps in some scan ('' if nothing)."""
        if not ag.active.any():
            return 'never near the ego vehicle'
        act = ag.active
        xy, yaw = ag.poses[act, :2], ag.poses[act, 2]
        hl, hw = ag.half_length + 0.1, ag.half_width + 0.1
        if self._overlap(xy, yaw, hl, hw, self.ego_xy[act], self.ego_yaw[act],
                         2.4, 1.05).any():
            return 'ego'
        for other in self.agents:
            oxy = other.poses[act, :2]
            near = (np.hypot(*(oxy - xy).T) < hl + hw + other.half_length
                    + other.half_width) & other.active[act]
            if near.any() and self._overlap(
                    xy[near], yaw[near], hl, hw, oxy[near],
                    other.poses[act][near, 2], other.half_length,
                    other.half_width).any():
                return other.kind
        if len(s_xy):
            lo, hi = xy.min(0) - 6, xy.max(0) + 6
            sel = np.flatnonzero(((s_xy >= lo) & (s_xy <= hi)).all(1))
            if len(sel):
                step = max(1, len(xy) // 200)
                if self._overlap(xy[::step, None], yaw[::step, None], hl, hw,
                                 s_xy[sel][None], s_yaw[sel][None],
                                 s_hl[sel][None], s_hw[sel][None]).any():
                    return 'static'
        return ''

    # -- assembly ---------------------------------------------------------
    def build(self) -> 'Scene':
        """Lay out the streets, the static structure and the agents."""
        self._add_cross_street()
        self._populate_agents()
        main = self.streets[0]
        lo = float(self.ego_s.min()) - 100
        hi = float(self.ego_s.max()) + 100
        ranges = [(lo, hi), (-110.0, 110.0)]
        for k in range(len(self.streets)):
            for side in (-1, 1):
                self._lots(k, side, *ranges[k])
                self._furniture(k, side, *ranges[k])
        for side in (-1, 1):
            self._parked_cars(0, side, lo, hi, self.reserved[side])
            self._parked_cars(1, side, -100.0, 100.0, [])
        self._resolve_collisions()
        for ag in self.agents:
            ag.inst = self.next_inst
            self.next_inst += 1
        return Scene(streets=self.streets,
                     static=Primitives.concat(self.static_parts),
                     agents=self.agents, poses=self.ego_poses(),
                     s_crosswalk=self.s_crosswalk, stops=self.stops,
                     ego_s=self.ego_s, lane_offset=main.lane_offset,
                     waves=self.waves)


@dataclass
class Scene:
    """A laid-out street scene and the ego trajectory through it.

    Attributes:
        streets: The main street (index 0) and the cross street.
        static: World-frame static primitives.
        agents: Things with their own trajectories.
        poses: (N, 4, 4) sensor -> world transforms of the scans.
        s_crosswalk: Position of the crosswalk along the main street [m].
        stops: ``(start, end)`` times [s] of the ego's stops.
        ego_s: (N,) ego position along the main street [m].
        lane_offset: Lateral offset of the lanes on the main street [m].
    """
    streets: List[Street]
    static: Primitives
    agents: List[Agent]
    poses: np.ndarray
    s_crosswalk: float = 0.0
    stops: list = field(default_factory=list)
    ego_s: np.ndarray = None
    lane_offset: float = 2.0
    waves: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    def primitives(self, i: int) -> Primitives:
        """All primitives of scan ``i`` (static first, then the agents'
        rows with their per-scan labels)."""
        return Primitives.concat(
            [self.static] + [ag.primitives(i, j)
                             for j, ag in enumerate(self.agents)
                             if ag.active[i]])

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
        cls, refl, _ = self._classify(proj, t - t0)
        normal = np.zeros((n, 3))
        normal[:, 2] = 1.0
        return t, cls.astype(np.int32), refl.astype(np.float32), normal

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
