"""What a rich scene (``SceneBuilder(detail='rich')``) adds to a plain one.

:class:`RichDetail` draws only from the builder's ``detail_rng``, so the
plain part of a rich scene is laid out as the plain scene of the same seed
(the agents and the static world then meet more things, so some plain
agents are delayed or dropped). It adds:

* relief: a grade along the main street (a sine of 0.2-0.5 m amplitude and
  120-300 m wavelength: slopes up to about 2.5 %) and a camber (a cross
  slope of 1-2.5 %, either side up) across the road and the sidewalks
  (:func:`~.streets.relief_height`); the ego vehicle (height, pitch,
  roll), the agents and the static world follow it, buildings reach 0.5 m
  into the ground so that none floats on the downhill side;
* facades that are not straight: full-height jogs, slanted bays and round
  corner towers on the street side of buildings;
* vegetation that is not one ellipsoid: tree crowns of 3-6 lobes, bushes
  of 2-4;
* more movers: buses and trucks in both directions, motorcycles (8-15
  m/s), slow (0.3-0.7 m/s) and fast (3.5-5 m/s) pedestrians, cars that
  stop for a few seconds in their lane and drive on, pedestrians that
  pause and walk on.
"""
import numpy as np

from .agents import bus_model, car_model, motorcycle_model, person_model, \
    truck_model
from .geometry import BOX, CYLINDER, ELLIPSOID, make_primitives
from .semantic_ids import (BUILDING, BUS, CAR, MOTORCYCLIST, PERSON, TRUCK,
                           VEGETATION)
from .streets import relief_grade, relief_height


class RichDetail:
    """The rich detail of a :class:`~.scene.SceneBuilder` (a mixin; see
    the module docstring).

    Uses the builder's ``detail_rng``, ``streets``, ``times``, ``n``, the
    ego trajectory and ``static_parts``; sets ``relief``.
    """

    # -- relief -----------------------------------------------------------
    def _add_relief(self):
        """Draw the grade and camber; lift and tilt the ego vehicle."""
        rng = self.detail_rng
        main = self.streets[0]
        self.relief = dict(
            amp=float(rng.uniform(0.2, 0.5)),
            wavelength=float(rng.uniform(120.0, 300.0)),
            phase=float(rng.uniform(0, 2 * np.pi)),
            camber=float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.025)),
            outer=main.outer)
        lat = -main.lane_offset  # the ego drives in the right lane
        self.ego_z = self.ego_z + relief_height(
            self.relief, self.ego_s, np.full(self.n, lat))
        # nose up uphill (a positive pitch tilts x down), left side up
        # with a positive camber
        self.ego_pitch = self.ego_pitch - np.arctan(
            relief_grade(self.relief, self.ego_s))
        self.ego_roll = self.ego_roll + np.arctan(self.relief['camber'])

    def relief_at(self, xy: np.ndarray) -> np.ndarray:
        """(n,) relief height [m] at world points ``xy (n, 2)``."""
        s, lat, _ = self.streets[0].frame(xy)
        return relief_height(self.relief, s, lat)

    def _static_on_relief(self):
        """Every static row on the relief at its centre; buildings reach
        0.5 m deeper so that a long one does not float downhill."""
        for part in self.static_parts:
            part.params[:, 2] += self.relief_at(part.params[:, :2])
            deep = part.sem == BUILDING
            deep &= (part.params[:, 2] - part.params[:, 5]) < 0.5
            part.params[deep, 2] -= 0.25
            part.params[deep, 5] += 0.25

    # -- static -----------------------------------------------------------
    def _rich_facade(self, k, side, params, refl):
        """Jogs, slanted bays and a round corner on the street side of a
        building box ``params`` (see :meth:`_lots`)."""
        rng = self.detail_rng
        x, y, _, hl, hd, hh, yaw = params
        nx, ny = np.sin(yaw) * side, -np.cos(yaw) * side  # towards street
        tx, ty = np.cos(yaw), np.sin(yaw)
        rows, kinds = [], []
        u = -hl
        while u < hl - 1.0:
            w = min(rng.uniform(2.0, 6.0), hl - u)
            if rng.random() < 0.6:
                depth = rng.uniform(0.2, 1.0)
                top = 2 * hh * rng.uniform(0.6, 1.0)
                c = hd + depth / 2 - 0.1
                uc = u + w / 2
                rows.append([x + tx * uc + nx * c, y + ty * uc + ny * c,
                             top / 2, w / 2, depth / 2 + 0.1, top / 2,
                             yaw + rng.uniform(-0.15, 0.15)])
                kinds.append(BOX)
            u += w
        if rng.random() < 0.25:  # a round tower on a street-side corner
            r = rng.uniform(1.0, 2.2)
            end = rng.choice([-1, 1]) * (hl - 0.5 * r)
            c = hd - 0.3 * r
            rows.append([x + tx * end + nx * c, y + ty * end + ny * c, hh, r,
                         r, hh * rng.uniform(1.0, 1.15), 0.0])
            kinds.append(CYLINDER)
        if not rows:
            return
        prims = make_primitives(kinds, rows, BUILDING, refl=refl)
        corners, _ = prims.footprint()
        ok = np.array([self._clear_of_streets(c, -0.05) for c in corners])
        if ok.any():
            self._add_static(prims.select(ok))

    def _lobes(self, crown: np.ndarray, count_lo: int, count_hi: int,
               porosity: float, jitter: float):
        """Lobes around an ellipsoid ``crown`` (7 numbers), so that a crown
        or a bush is not one ellipsoid."""
        rng = self.detail_rng
        cx, cy, cz, hx, hy, hz, yaw = crown
        n = int(rng.integers(count_lo, count_hi + 1))
        off = rng.uniform(-0.6, 0.6, (n, 3)) * [hx, hy, hz]
        off[:, 2] = rng.uniform(-0.3, 0.5, n) * hz
        size = rng.uniform(0.35, 0.7, (n, 3)) * [hx, hy, hz]
        rows = np.concatenate([[cx, cy, cz] + off, size,
                               rng.uniform(0, np.pi, (n, 1))], axis=1)
        self._add_static(make_primitives(
            ELLIPSOID, rows, VEGETATION, refl=rng.uniform(0.35, 0.5),
            porosity=porosity, depth_jitter=jitter))

    # -- agents -----------------------------------------------------------
    def _rich_agents(self):
        """More kinds of movers (see the module docstring)."""
        rng = self.detail_rng
        main = self.streets[0]
        T = self.times[-1] if self.n > 1 else 0.0
        lane = main.lane_offset
        # cars that stop in their lane for a few seconds and drive on (first:
        # the movers after them give way)
        for tau in self._event_times(-2.0, T + 2, 4.0, 10.0, rng):
            v = rng.uniform(4.0, 10.0)
            wait = rng.uniform(1.5, 5.0)
            s_m = float(self.ego_s_at(tau)) + rng.uniform(-10, 30)
            fn = self._knots([tau - 100, tau, tau + wait, tau + wait + 100],
                             [s_m + 100 * v, s_m, s_m, s_m - 100 * v])
            self._agent(car_model(rng), self._along(0, fn, lane, True), CAR,
                        'stop-and-go car')
        # buses and trucks, oncoming or ahead, sometimes on the cross street
        for tau in self._event_times(-4.0, T + 4, 6.0, 14.0, rng):
            sem = BUS if rng.random() < 0.5 else TRUCK
            model = (bus_model if sem == BUS else truck_model)(rng)
            v = rng.uniform(5.0, 11.0)
            if rng.random() < 0.25:
                d = rng.choice([-1, 1])
                fn = self._knots([tau - 100, tau + 100],
                                 [-d * 100 * v, d * 100 * v])
                traj = self._along(1, fn, -d * self.streets[1].lane_offset,
                                   d < 0)
            else:
                s_m = float(self.ego_s_at(tau))
                traj = self._along(0, self._knots(
                    [tau - 100, tau + 100], [s_m + 100 * v, s_m - 100 * v]),
                    lane, True)
            self._agent(model, traj, sem, 'bus' if sem == BUS else 'truck')
        # motorcycles, fast, oncoming
        for tau in self._event_times(-2.0, T + 2, 4.0, 10.0, rng):
            v = rng.uniform(8.0, 15.0)
            s_m = float(self.ego_s_at(tau))
            self._agent(motorcycle_model(rng), self._along(
                0, self._knots([tau - 100, tau + 100],
                               [s_m + 100 * v, s_m - 100 * v]),
                lane + rng.uniform(-0.5, 0.5), True), MOTORCYCLIST,
                'motorcycle')
        # slow, fast and pausing pedestrians on the main street's sidewalks
        lo = float(self.ego_s.min()) - 50
        hi = float(self.ego_s.max()) + 50
        for s0 in np.arange(lo, hi, 12.0) + rng.uniform(0, 12):
            if rng.random() > 0.5:
                continue
            # a side (+-1), a walking direction (+-1) and a kind
            side, d = rng.choice([-1, 1], 2)
            u = rng.random()
            lat = side * (main.half_width + rng.uniform(
                1.0, max(1.05, main.sidewalk - 0.8)))
            if u < 0.4:
                v, kind = rng.uniform(0.3, 0.7), 'slow person'
                fn = self._knots([-100, 100], [s0 - d * 100 * v,
                                               s0 + d * 100 * v])
            elif u < 0.7:
                v, kind = rng.uniform(3.5, 5.0), 'running person'
                fn = self._knots([-100, 100], [s0 - d * 100 * v,
                                               s0 + d * 100 * v])
            else:
                v, kind = rng.uniform(0.9, 1.6), 'pausing person'
                t0 = rng.uniform(0, max(T, 0.1))
                wait = rng.uniform(1.0, 4.0)
                fn = self._knots([t0 - 100, t0, t0 + wait, t0 + wait + 100],
                                 [s0 - d * 100 * v, s0, s0,
                                  s0 + d * 100 * v])
            self._agent(person_model(rng), self._along(0, fn, lat, d < 0),
                        PERSON, kind)

