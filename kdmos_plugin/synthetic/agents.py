"""Agents: cars, cyclists and pedestrians with their own trajectories.

:class:`Agent` holds one object's model and per-scan poses; its label is
moving (252/253/254) in the scans where it moves faster than
:data:`MOVING_SPEED`, else its static class (10/31/30). The object models
(:func:`car_model`, :func:`person_model`, :func:`cyclist_model`) are
boxes, cylinders and ellipsoids in the object frame (x forward, y left,
z up). :class:`AgentPlacement` populates a :class:`~.scene.SceneBuilder`:
crossing pedestrians, cross traffic, slow cars leaving a parking spot, a
car following the ego, oncoming cars, cyclists, people on the sidewalks;
then places them without collisions.
"""
from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np

from .geometry import (BOX, CYLINDER, ELLIPSOID, Primitives, make_primitives,
                       transform_primitives)
from .semantic_ids import (BICYCLIST, BUS, CAR, MOTORCYCLIST, MOVING_ID,
                           PERSON, TRUCK)

#: An agent faster than this [m/s] in a scan is labelled moving there.
MOVING_SPEED = 0.2
#: Agents farther than this from the ego vehicle [m] are not simulated.
ACTIVE_RADIUS = 100.0


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
        z: (N,) height [m] of the ground under the agent (a rich scene's
            relief), or None (flat road).
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
    z: np.ndarray = None

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
        if self.z is not None:
            out.params[:, 2] += self.z[i]
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


def bus_model(rng: np.random.Generator) -> Tuple[Primitives, float, float]:
    """A city bus: a long tall body above the wheels and a roof unit, in
    its own frame (label 13)."""
    L, W = rng.uniform(10.5, 12.5), rng.uniform(2.45, 2.55)
    H = rng.uniform(2.9, 3.2)
    refl = rng.uniform(0.2, 0.45)
    rows = [[0, 0, (0.35 + H) / 2, L / 2, W / 2, (H - 0.35) / 2, 0],
            [-0.1 * L, 0, H + 0.15, 0.2 * L, 0.4 * W, 0.15, 0]]
    return make_primitives(BOX, rows, BUS, refl=refl), L / 2, W / 2


def truck_model(rng: np.random.Generator) -> Tuple[Primitives, float,
                                                   float]:
    """A truck: a cab ahead of a taller cargo box, in its own frame
    (label 18)."""
    cargo, cab = rng.uniform(4.5, 7.5), rng.uniform(1.8, 2.3)
    W = rng.uniform(2.3, 2.5)
    Hc, Hb = rng.uniform(2.5, 2.9), rng.uniform(3.0, 3.8)
    L = cargo + cab + 0.3
    refl = rng.uniform(0.15, 0.5)
    rows = [[L / 2 - cab / 2, 0, (0.5 + Hc) / 2, cab / 2, W / 2,
             (Hc - 0.5) / 2, 0],
            [-L / 2 + cargo / 2, 0, (0.7 + Hb) / 2, cargo / 2, W / 2,
             (Hb - 0.7) / 2, 0]]
    return make_primitives(BOX, rows, TRUCK, refl=refl), L / 2, W / 2


def motorcycle_model(rng: np.random.Generator) -> Tuple[Primitives, float,
                                                        float]:
    """A motorcycle with its rider (all labelled motorcyclist, 32), in its
    own frame."""
    refl = rng.uniform(0.1, 0.5)
    h = rng.uniform(1.45, 1.65)
    prims = make_primitives(
        [BOX, CYLINDER, ELLIPSOID],
        [[0, 0, 0.5, 1.05, 0.3, 0.4, 0],                # wheels, engine
         [-0.2, 0, (0.9 + h - 0.25) / 2, 0.25, 0.25, (h - 1.15) / 2, 0],
         [-0.12, 0, h - 0.13, 0.14, 0.14, 0.15, 0]],     # helmet
        MOTORCYCLIST, refl=refl)
    return prims, 1.1, 0.4


class AgentPlacement:
    """The agents of a :class:`~.scene.SceneBuilder` (a mixin).

    Uses the builder's ``rng``, ``n``, ``times``, ``streets``, ``stops``,
    ``s_crosswalk``, ``s_cross``, the ego trajectory (``ego_s``,
    ``ego_xy``, ``ego_yaw``, :meth:`~.ego_path.EgoPath.ego_s_at`) and its
    static parts (``static_parts``); fills ``candidates``, ``agents``,
    ``dropped`` and ``reserved`` (parking stretches kept free per side).
    """

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
        z = None if self.relief is None else self.relief_at(poses[:, :2])
        return Agent(sem, 0, prims, poses, speed, hl, hw, kind, active, z)

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
                     gap_hi: float, rng=None) -> List[float]:
        """Random event times in ``[lo, hi)`` with gaps ``U(gap_lo,
        gap_hi)``; the first one drawn lies inside the sequence, so every
        sequence, however short, holds one event. ``rng``: the builder's
        by default."""
        rng = self.rng if rng is None else rng
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
