"""The ego vehicle's path: speed profile, stops, poses of the scans.

:class:`EgoPath` drives the ego vehicle of a :class:`~.scene.SceneBuilder`
either along a procedural curved path (:func:`ego_speed_profile` with a
stop in every sequence) or along a given trajectory (e.g. a real KITTI
one), lays the main street around that path and adds the small pitch,
roll and bounce of the car body. Scan ``i`` is taken at
``t = i * scan_period`` s (the builder's period; :data:`SCAN_PERIOD` by
default).
"""
from typing import List, Tuple

import numpy as np

from .streets import ROAD_CROWN, Street, ground_undulation, \
    path_from_curvature

#: Default scan period [s] (10 Hz).
SCAN_PERIOD = 0.1


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


class EgoPath:
    """The ego trajectory of a :class:`~.scene.SceneBuilder` (a mixin).

    Uses the builder's ``rng``, ``n`` (scans), ``times`` [s] and
    ``scan_period`` [s]; sets
    ``streets`` (the main street), ``ego_s`` (N,) position along it [m],
    ``ego_xy`` (N, 2) [m], ``ego_yaw``, ``ego_pitch``, ``ego_roll`` (N,)
    [rad], ``ego_z`` (N,) sensor height [m], ``ego_speed_fn(t)`` [m/s],
    ``stops`` (``(start, end)`` times [s]) and ``waves`` (the ground
    undulation).
    """

    def _build_ego(self, ego_xy_yaw):
        rng = self.rng
        step = 0.5
        ext = 150.0  # street beyond the driven part, both ends
        half_width = rng.uniform(5.7, 6.7)
        lane = rng.uniform(1.6, 1.9)
        duration = self.n * self.scan_period
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
            sp = np.gradient(ego_s, self.scan_period) if self.n > 1 else \
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
        accel = np.gradient(self.ego_speed_fn(t), self.scan_period) \
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
        slope_end = (self.ego_s[-1] - self.ego_s[-2]) / self.scan_period
        slope_start = (self.ego_s[1] - self.ego_s[0]) / self.scan_period
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
