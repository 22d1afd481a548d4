"""A spinning multi-beam LiDAR (HDL-64E-like) cast into the synthetic street.

The sensor has ``B`` beams (rows, from the top beam down) and ``C`` firing
azimuths a turn (columns, counter-clockwise from the x axis, i.e. forward,
as in the KITTI ``.bin`` files). One scan casts all ``B * C`` rays at once:
each primitive is tested only against the rays of its azimuth / elevation
window, and the nearest hit of a ray wins (that is the occlusion). Points
are written in KITTI order: beam by beam from the top, azimuth increasing.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .geometry import CYLINDER, INTERSECT, Primitives

#: Presets: ``full`` is HDL-64E-like, ``small`` a coarse sensor for tests.
LIDAR_PRESETS: Dict[str, dict] = {
    'full': dict(num_beams=64, num_columns=2048),
    'small': dict(num_beams=32, num_columns=512),
}


def hdl64_elevations(num_beams: int = 64) -> np.ndarray:
    """HDL-64E-like beam elevations, top beam first.

    Two blocks as in the HDL-64E: the upper half of the beams spaced about
    1/3 degree from +2.0 to -8.33 degrees, the lower half about 1/2 degree
    from -8.83 to -24.8 degrees. Fewer beams take every k-th beam of the
    64.

    Args:
        num_beams: A divisor of 64.

    Returns:
        np.ndarray: (num_beams,) float64 elevations [rad], descending.
    """
    if num_beams < 1 or 64 % num_beams:
        raise ValueError(f'num_beams must divide 64, got {num_beams}')
    upper = np.linspace(2.0, -8.33, 32)
    lower = np.linspace(-8.83, -24.8, 32)
    el = np.concatenate([upper, lower])[::64 // num_beams]
    return np.deg2rad(el)


@dataclass
class LidarModel:
    """Beam geometry and the noise model of the sensor.

    Attributes:
        num_beams: B, number of beams (rows).
        num_columns: C, firings a turn (azimuth step 2 pi / C).
        height: Mounting height of the optical centre above the road [m]
            (KITTI: 1.73).
        max_range: Returns beyond this range [m] are dropped.
        min_range: Returns closer than this [m] are dropped.
        range_noise: Std of the Gaussian range noise [m].
        dropout: Base probability that a return is lost.
        far_dropout: Extra loss probability at ``max_range`` (grows with
            the squared range; dark surfaces lose more).
        seed: Seed of the fixed per-beam calibration (elevation and
            azimuth offsets, remission gain); the same for every
            sequence.
        beam_elevations_deg: The beam elevations [deg], top beam first;
            None (default): HDL-64E-like (:func:`hdl64_elevations`).
        intensity_scale: Scale of the written intensity: 1.0 (default,
            KITTI remission in [0, 0.99], steps of 0.01), another full scale
            such as 255.0 (integers: ``round(remission * scale)``) or None
            (no intensity: every point gets ``intensity_fill``).
        intensity_fill: The intensity written without one.
    """
    num_beams: int = 64
    num_columns: int = 2048
    height: float = 1.73
    max_range: float = 80.0
    min_range: float = 1.5
    range_noise: float = 0.02
    dropout: float = 0.015
    far_dropout: float = 0.35
    seed: int = 64
    beam_elevations_deg: Optional[Tuple[float, ...]] = None
    intensity_scale: Optional[float] = 1.0
    intensity_fill: float = 0.0

    def __post_init__(self):
        cal = np.random.default_rng(self.seed)
        if self.beam_elevations_deg is None:
            el = hdl64_elevations(self.num_beams)
        else:
            el = np.deg2rad(np.asarray(self.beam_elevations_deg, np.float64))
            if len(el) != self.num_beams or np.any(np.diff(el) >= 0):
                raise ValueError(
                    f'beam_elevations_deg must hold {self.num_beams} '
                    f'strictly descending angles, got {len(el)}')
        if self.intensity_scale is not None and \
                not self.intensity_scale > 0:
            raise ValueError('intensity_scale must be > 0 or None, got '
                             f'{self.intensity_scale}')
        self.elevations = el + np.deg2rad(cal.normal(0, 0.03, len(el)))
        if np.any(np.diff(self.elevations) >= 0):
            raise ValueError('beams closer than their calibration jitter: '
                             'the elevations are no longer descending')
        self.az_step = 2 * np.pi / self.num_columns
        self.az_offsets = cal.uniform(-0.5, 0.5, len(el)) * self.az_step
        # per-laser remission gain (HDL-64E lasers differ in brightness)
        self.beam_gain = cal.uniform(0.85, 1.15, len(el))
        az = np.arange(self.num_columns)[None] * self.az_step \
            + self.az_offsets[:, None]
        ce = np.cos(self.elevations)[:, None]
        self.dirs = np.stack([ce * np.cos(az), ce * np.sin(az),
                              np.broadcast_to(np.sin(self.elevations)[:, None],
                                              az.shape)], axis=-1)

    @classmethod
    def from_preset(cls, preset: str, **kwargs) -> 'LidarModel':
        """Build the ``'full'`` or ``'small'`` sensor (kwargs override)."""
        if preset not in LIDAR_PRESETS:
            raise ValueError(f'unknown LiDAR preset {preset!r}; choose one '
                             f'of {sorted(LIDAR_PRESETS)}')
        return cls(**{**LIDAR_PRESETS[preset], **kwargs})

    # ------------------------------------------------------------------
    def _windows(self, prims: Primitives, origin: np.ndarray, yaw: float,
                 tilt: float):
        """Beam and column windows of every primitive (vectorised).

        Returns:
            tuple: (P,) bool visible, (P,) int first / last beam (exclusive
            end), (P,) int first column, (P,) int number of columns.
        """
        corners, radius = prims.footprint()
        cxy = prims.params[:, :2] - origin[:2]
        rho = np.hypot(cxy[:, 0], cxy[:, 1])
        phi = np.arctan2(cxy[:, 1], cxy[:, 0])
        # azimuth half-window: exact corner span for boxes, asin for round
        rel = corners - origin[:2]
        ang = np.arctan2(rel[..., 1], rel[..., 0]) - phi[:, None]
        ang = (ang + np.pi) % (2 * np.pi) - np.pi
        lo_box, hi_box = ang.min(axis=1), ang.max(axis=1)
        with np.errstate(invalid='ignore', divide='ignore'):
            half = np.arcsin(np.clip(radius / np.maximum(rho, 1e-9), 0, 1))
        is_box = prims.kind != CYLINDER
        lo = np.where(is_box, lo_box, -half)
        hi = np.where(is_box, hi_box, half)
        # the sensor inside the footprint (or too close): all columns
        inside = rho <= radius * 1.001
        if is_box.any():
            cx, cy = cxy[:, 0], cxy[:, 1]
            yaw_p = prims.params[:, 6]
            lx = np.abs(np.cos(yaw_p) * -cx + np.sin(yaw_p) * -cy)
            ly = np.abs(-np.sin(yaw_p) * -cx + np.cos(yaw_p) * -cy)
            inside_box = (lx <= prims.params[:, 3] + 0.05) & \
                (ly <= prims.params[:, 4] + 0.05)
            inside = np.where(is_box, inside_box, inside)
        margin = self.az_step * 1.5 + tilt
        a0 = phi + lo - yaw - margin
        a1 = phi + hi - yaw + margin
        c0 = np.floor(a0 / self.az_step).astype(np.int64)
        ncol = np.ceil(a1 / self.az_step).astype(np.int64) - c0 + 1
        c0 = np.where(inside, 0, c0 % self.num_columns)
        ncol = np.where(inside, self.num_columns,
                        np.minimum(ncol, self.num_columns))
        # elevation window from the vertical extent and the range interval
        z0 = prims.params[:, 2] - prims.params[:, 5] - origin[2]
        z1 = prims.params[:, 2] + prims.params[:, 5] - origin[2]
        near = np.where(inside, 0.05, np.maximum(rho - radius, 0.05))
        far = rho + radius
        el_lo = np.minimum(np.arctan2(z0, near), np.arctan2(z0, far)) - tilt
        el_hi = np.maximum(np.arctan2(z1, near), np.arctan2(z1, far)) + tilt
        # elevations are descending: beams b with el_lo <= el[b] <= el_hi
        neg = -self.elevations
        b0 = np.searchsorted(neg, -el_hi, side='left')
        b1 = np.searchsorted(neg, -el_lo, side='right')
        visible = (b1 > b0) & (rho - radius < self.max_range)
        return visible, b0, b1, c0, ncol

    def cast(self, prims: Primitives, pose: np.ndarray,
             ground: Optional[Callable] = None,
             rng: Optional[np.random.Generator] = None
             ) -> Dict[str, np.ndarray]:
        """Cast every ray of one scan.

        Args:
            prims: World-frame primitives (rows beyond range are culled).
            pose: (4, 4) sensor -> world transform; its rotation should be
                close to a pure yaw (roll / pitch of a few degrees at most).
            ground: ``ground(origin (3,), D (n, 3)) -> (t (n,), sem (n,),
                refl (n,), normal (n, 3))`` hit of the ground surface for
                world-frame unit rays from ``origin``; ``None``: no ground.
            rng: Random generator for porosity and foliage depth.

        Returns:
            dict: per ray, shaped (B, C): ``t`` distance [m] (``inf`` = no
            return), ``prim`` index into ``prims`` (-1 ground, -2 none),
            ``sem`` int32, ``refl`` float32 base reflectivity, and
            ``cos_inc`` |cos| of the incidence angle.
        """
        rng = rng if rng is not None else np.random.default_rng(0)
        R = pose[:3, :3]
        origin = pose[:3, 3]
        yaw = float(np.arctan2(R[1, 0], R[0, 0]))
        tilt = float(np.arccos(np.clip(R[2, 2], -1, 1))) + np.deg2rad(0.2)
        # (B, C, 3) world-aligned unit rays (written out: no BLAS threads)
        D = self.dirs[..., 0, None] * R[:, 0] + \
            self.dirs[..., 1, None] * R[:, 1] + \
            self.dirs[..., 2, None] * R[:, 2]
        B, C = self.num_beams, self.num_columns
        t = np.full((B, C), np.inf)
        pid = np.full((B, C), -2, dtype=np.int64)
        normal = np.zeros((B, C, 3))
        visible, b0, b1, c0, ncol = self._windows(prims, origin, yaw, tilt)
        rel = prims.params.copy()
        rel[:, :3] -= origin
        for k in np.flatnonzero(visible):
            cols = (c0[k] + np.arange(ncol[k])) % C
            rows = slice(b0[k], b1[k])
            Dk = D[rows][:, cols].reshape(-1, 3)
            tk, nk = INTERSECT[int(prims.kind[k])](Dk, rel[k])
            hit = np.isfinite(tk)
            if not hit.any():
                continue
            if prims.porosity[k] > 0:
                hit &= rng.random(len(tk)) >= prims.porosity[k]
            if prims.depth_jitter[k] > 0:
                tk = tk + rng.exponential(prims.depth_jitter[k], len(tk))
            tcur = t[rows][:, cols].reshape(-1)
            better = hit & (tk < tcur)
            if not better.any():
                continue
            shape = (b1[k] - b0[k], len(cols))
            upd = better.reshape(shape)
            sub_t = np.where(upd, tk.reshape(shape), tcur.reshape(shape))
            t[rows, cols] = sub_t
            sub_p = pid[rows][:, cols]
            sub_p[upd] = k
            pid[rows, cols] = sub_p
            sub_n = normal[rows][:, cols]
            sub_n[upd] = nk.reshape(shape + (3,))[upd]
            normal[rows, cols] = sub_n
        sem = np.zeros((B, C), dtype=np.int32)
        refl = np.zeros((B, C), dtype=np.float32)
        obj = pid >= 0
        sem[obj] = prims.sem[pid[obj]]
        refl[obj] = prims.refl[pid[obj]]
        if ground is not None:
            flat = D.reshape(-1, 3)
            # only rays whose lowest possible ground hit (0.5 m above the
            # road) lies before their object hit and within range
            with np.errstate(divide='ignore'):
                t_lo = (origin[2] - 0.5) / -flat[:, 2]
            down = (flat[:, 2] < -1e-6) & \
                (t_lo < np.minimum(t.reshape(-1), self.max_range + 1.0))
            tg, sg, rg, ng = ground(origin, flat[down])
            tflat = t.reshape(-1)
            idx = np.flatnonzero(down)
            win = tg < tflat[idx]
            idx = idx[win]
            t.reshape(-1)[idx] = tg[win]
            pid.reshape(-1)[idx] = -1
            sem.reshape(-1)[idx] = sg[win]
            refl.reshape(-1)[idx] = rg[win]
            normal.reshape(-1, 3)[idx] = ng[win]
        cos_inc = np.abs((normal * D).sum(axis=-1))
        return dict(t=t, prim=pid, sem=sem, refl=refl, cos_inc=cos_inc)

    def returns(self, cast: Dict[str, np.ndarray], rng: np.random.Generator
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Turn a cast into noisy returns.

        Range noise, reflectivity -> remission (incidence angle, range
        fall-off, noise, quantised to 0.01 as in KITTI; written on the
        ``intensity_scale``), dropouts (a base
        rate plus a loss growing with range, stronger on dark surfaces),
        and the range limits.

        Args:
            cast: Output of :meth:`cast`.
            rng: Random generator.

        Returns:
            tuple: (N, 4) float32 points ``x, y, z`` [m] in the sensor
            frame and intensity; (N,) flat indices of the rays (row-major
            over (B, C), i.e. KITTI point order); (N,) float64 noisy
            range [m].
        """
        t = cast['t'].reshape(-1)
        n = len(t)
        noise = rng.normal(0.0, self.range_noise, n)
        u_drop = rng.random(n)
        inten_noise = rng.normal(0.0, 0.025, n)
        r = t + noise
        refl = cast['refl'].reshape(-1)
        frac = np.clip(np.where(np.isfinite(r), r, 0) / self.max_range, 0, 1)
        gain = np.repeat(self.beam_gain, self.num_columns)
        remission = refl * gain * (0.7 + 0.3 * cast['cos_inc'].reshape(-1)) \
            * (1.0 - 0.2 * frac) + inten_noise
        remission = np.round(np.clip(remission, 0.0, 0.99), 2)
        p_drop = self.dropout + self.far_dropout * frac ** 2 \
            * (1.0 + 2.0 * (remission < 0.08))
        keep = np.isfinite(r) & (r >= self.min_range) & \
            (r <= self.max_range) & (u_drop >= p_drop)
        idx = np.flatnonzero(keep)
        xyz = self.dirs.reshape(-1, 3)[idx] * r[idx, None]
        intensity = remission[idx]
        if self.intensity_scale is None:
            intensity = np.full(len(idx), self.intensity_fill)
        elif self.intensity_scale != 1.0:
            intensity = np.round(intensity * self.intensity_scale)
        points = np.concatenate([xyz, intensity[:, None]], axis=1)
        return points.astype(np.float32), idx, r[idx]
