"""The static world beside the streets.

:class:`StaticWorld` adds to a :class:`~.scene.SceneBuilder`: lots with
buildings (facades with bays and balconies, upper storeys), fences,
hedges and parks; poles, signs, street trees and unlabeled clutter on the
sidewalks; parked cars in the parking lanes. A rich scene (the builder's
``detail``) adds jogs to the facades and lobes to the crowns and bushes
(:class:`~.rich_detail.RichDetail`).
"""
from typing import List, Tuple

import numpy as np

from .agents import car_model
from .geometry import (BOX, CYLINDER, ELLIPSOID, Primitives, make_primitives,
                       transform_primitives)
from .semantic_ids import (BUILDING, FENCE, POLE, SIGN, TRUNK, UNLABELED,
                           VEGETATION)


class StaticWorld:
    """The static structure of a :class:`~.scene.SceneBuilder` (a mixin).

    Uses the builder's ``rng``, ``streets``, ``next_inst`` (instance ids
    of parked cars) and
    :meth:`~.streets.StreetLayout._clear_of_streets`; appends to
    ``static_parts``.
    """

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
        crown = make_primitives(
            ELLIPSOID, [x, y, th + 0.6 * cz, cr, cr * rng.uniform(0.8, 1.0),
                        cz, rng.uniform(0, np.pi)], VEGETATION,
            refl=rng.uniform(0.35, 0.5), porosity=0.15, depth_jitter=0.3)
        self._add_static(crown)
        if self.detail == 'rich':
            self._lobes(crown.params[0], 3, 6, 0.15, 0.3)

    def _bush(self, x, y, yaw):
        rng = self.rng
        r = rng.uniform(0.6, 1.6)
        bush = make_primitives(
            ELLIPSOID, [x, y, 0.4 * r, r, r * rng.uniform(0.6, 1.0),
                        rng.uniform(0.5, 0.9) * r, yaw], VEGETATION,
            refl=rng.uniform(0.35, 0.5), porosity=0.1, depth_jitter=0.2)
        self._add_static(bush)
        if self.detail == 'rich':
            self._lobes(bush.params[0], 2, 4, 0.1, 0.2)

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
                    if self.detail == 'rich':
                        self._rich_facade(k, side, params, refl)
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
