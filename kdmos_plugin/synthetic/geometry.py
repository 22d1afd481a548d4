"""Analytic ray casting against the primitives of the synthetic street.

Three primitive kinds, each described by the same 7 numbers
``(cx, cy, cz, hx, hy, hz, yaw)`` in metres / radians (world frame, z up):

* ``BOX``: an oriented box, centre ``(cx, cy, cz)``, half extents
  ``(hx, hy, hz)`` along its own axes, rotated by ``yaw`` about z
  (buildings, fences, car bodies, cyclists, sign plates).
* ``CYLINDER``: a vertical cylinder of radius ``hx`` (``hy`` is ignored)
  spanning ``cz - hz .. cz + hz`` (poles, trunks, pedestrians).
* ``ELLIPSOID``: an ellipsoid with semi-axes ``(hx, hy, hz)`` rotated by
  ``yaw`` about z (tree crowns, bushes).

Rays start at the origin (the sensor; callers subtract the sensor position
from the primitive centres) with unit directions ``D (n, 3)``. Every
intersection function returns the distance along the ray of the first entry
into the primitive (``inf`` for a miss, and rays starting inside a primitive
miss it) and the outward unit surface normal there.
"""
from dataclasses import dataclass, field
from typing import Tuple

import numpy as np

BOX = 0
CYLINDER = 1
ELLIPSOID = 2

_EPS = 1e-6


def _to_local(D: np.ndarray, cx: float, cy: float, cz: float, yaw: float
              ) -> Tuple[np.ndarray, np.ndarray]:
    """Rays in the frame of a primitive centred at ``(cx, cy, cz)`` and
    rotated by ``yaw`` about z.

    Returns:
        tuple: (n, 3) directions and (3,) origin [m] in that frame.
    """
    cs, sn = np.cos(yaw), np.sin(yaw)
    dl = np.empty_like(D)
    dl[:, 0] = cs * D[:, 0] + sn * D[:, 1]
    dl[:, 1] = -sn * D[:, 0] + cs * D[:, 1]
    dl[:, 2] = D[:, 2]
    ol = np.array([-(cs * cx + sn * cy), -(-sn * cx + cs * cy), -cz])
    return dl, ol


def _to_world(nl: np.ndarray, yaw: float, D: np.ndarray) -> np.ndarray:
    """(n, 3) vectors of a frame rotated by ``yaw`` about z, in the world
    frame (the inverse rotation of :func:`_to_local`), of the dtype of the
    ray directions ``D``."""
    cs, sn = np.cos(yaw), np.sin(yaw)
    out = np.empty_like(D)
    out[:, 0] = cs * nl[:, 0] - sn * nl[:, 1]
    out[:, 1] = sn * nl[:, 0] + cs * nl[:, 1]
    out[:, 2] = nl[:, 2]
    return out


def intersect_box(D: np.ndarray, params: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / oriented box intersection (slab method).

    Args:
        D: (n, 3) unit ray directions from the origin.
        params: (7,) ``cx, cy, cz, hx, hy, hz, yaw`` relative to the origin.

    Returns:
        tuple: (n,) distance [m] (``inf`` = miss) and (n, 3) unit normals.
    """
    cx, cy, cz, hx, hy, hz, yaw = params
    dl, ol = _to_local(D, cx, cy, cz, yaw)  # in the box frame
    half = np.array([hx, hy, hz])
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / dl
        t1 = (-half - ol) * inv
        t2 = (half - ol) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    axis = np.argmax(tmin, axis=1)
    tnear = np.take_along_axis(tmin, axis[:, None], axis=1)[:, 0]
    tfar = tmax.min(axis=1)
    hit = (tnear <= tfar) & (tnear > _EPS)
    t = np.where(hit, tnear, np.inf)
    # normal: -sign(d) along the entry axis, rotated back to the world
    sign = -np.sign(np.take_along_axis(dl, axis[:, None], axis=1)[:, 0])
    nl = np.zeros_like(D)
    nl[np.arange(len(D)), axis] = sign
    return t, _to_world(nl, yaw, D)


def intersect_cylinder(D: np.ndarray, params: np.ndarray
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / vertical capped cylinder intersection.

    Args:
        D: (n, 3) unit ray directions from the origin.
        params: (7,) ``cx, cy, cz, r, _, hz, _`` relative to the origin.

    Returns:
        tuple: (n,) distance [m] (``inf`` = miss) and (n, 3) unit normals.
    """
    cx, cy, cz, r, _, hz, _ = params
    dx, dy, dz = D[:, 0], D[:, 1], D[:, 2]
    a = dx * dx + dy * dy
    b = -2.0 * (cx * dx + cy * dy)
    c = cx * cx + cy * cy - r * r
    disc = b * b - 4.0 * a * c
    with np.errstate(divide='ignore', invalid='ignore'):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
    z = t_side * dz
    side = (disc >= 0) & (a > 1e-12) & (t_side > _EPS) & (c > 0) \
        & (z >= cz - hz) & (z <= cz + hz)
    t = np.where(side, t_side, np.inf)
    normal = np.zeros_like(D)
    normal[:, 0] = (t_side * dx - cx) / r
    normal[:, 1] = (t_side * dy - cy) / r
    top = cz + hz
    if top < 0:  # the origin is above the top cap: it can be seen
        with np.errstate(divide='ignore', invalid='ignore'):
            t_cap = top / dz
        px, py = t_cap * dx - cx, t_cap * dy - cy
        cap = (dz < 0) & (px * px + py * py <= r * r) & (t_cap < t)
        t = np.where(cap, t_cap, t)
        normal[cap] = (0.0, 0.0, 1.0)
    return t, normal


def intersect_ellipsoid(D: np.ndarray, params: np.ndarray
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / ellipsoid intersection.

    Args:
        D: (n, 3) unit ray directions from the origin.
        params: (7,) ``cx, cy, cz, hx, hy, hz, yaw`` relative to the origin.

    Returns:
        tuple: (n,) distance [m] (``inf`` = miss) and (n, 3) unit normals.
    """
    cx, cy, cz, hx, hy, hz, yaw = params
    half = np.array([hx, hy, hz])
    dl, ol = _to_local(D, cx, cy, cz, yaw)  # in the ellipsoid frame
    ds = dl / half
    os_ = ol / half
    a = (ds * ds).sum(axis=1)
    b = 2.0 * (ds[:, 0] * os_[0] + ds[:, 1] * os_[1] + ds[:, 2] * os_[2])
    c = float(os_ @ os_) - 1.0
    disc = b * b - 4.0 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
    hit = (disc >= 0) & (t > _EPS) & (c > 0)
    t = np.where(hit, t, np.inf)
    pl = ol + np.where(hit, t, 0.0)[:, None] * dl
    nl = pl / (half * half)
    nl /= np.maximum(np.linalg.norm(nl, axis=1, keepdims=True), 1e-12)
    return t, _to_world(nl, yaw, D)


INTERSECT = {BOX: intersect_box, CYLINDER: intersect_cylinder,
             ELLIPSOID: intersect_ellipsoid}


@dataclass
class Primitives:
    """A table of primitives (one row each), in one frame.

    Attributes:
        kind: (P,) int8, ``BOX``, ``CYLINDER`` or ``ELLIPSOID``.
        params: (P, 7) float64 ``cx, cy, cz, hx, hy, hz, yaw`` [m, rad].
        sem: (P,) int32 SemanticKITTI semantic id of the surface.
        inst: (P,) int32 instance id (0 for stuff).
        refl: (P,) float32 base reflectivity in [0, 1].
        porosity: (P,) float32 probability that a ray passes through.
        depth_jitter: (P,) float32 mean extra depth [m] of a return inside
            the primitive (foliage).
        agent: (P,) int32 index of the moving agent owning the row, -1 for
            static structure.
    """
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    params: np.ndarray = field(default_factory=lambda: np.zeros((0, 7)))
    sem: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    inst: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    refl: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    porosity: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32))
    depth_jitter: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32))
    agent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.kind)

    @staticmethod
    def concat(parts) -> 'Primitives':
        """Concatenate tables row-wise."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Primitives()
        return Primitives(**{
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in Primitives.__dataclass_fields__})

    def select(self, index) -> 'Primitives':
        """Rows ``index`` (a mask or an index array) as a new table."""
        return Primitives(**{
            name: getattr(self, name)[index]
            for name in Primitives.__dataclass_fields__})

    def footprint(self) -> Tuple[np.ndarray, np.ndarray]:
        """Horizontal bounds of every row.

        Returns:
            tuple: (P, 4, 2) footprint corners (the bounding rectangle for
            cylinders and ellipsoids) and (P,) bounding radius [m] about
            the centre.
        """
        cx, cy, _, hx, hy, _, yaw = self.params.T
        hy = np.where(self.kind == CYLINDER, hx, hy)
        yaw = np.where(self.kind == CYLINDER, 0.0, yaw)
        cs, sn = np.cos(yaw), np.sin(yaw)
        sx = np.array([1, 1, -1, -1])[None]
        sy = np.array([1, -1, -1, 1])[None]
        lx, ly = sx * hx[:, None], sy * hy[:, None]
        corners = np.stack([cx[:, None] + cs[:, None] * lx - sn[:, None] * ly,
                            cy[:, None] + sn[:, None] * lx + cs[:, None] * ly],
                           axis=-1)
        radius = np.where(self.kind == CYLINDER, hx, np.hypot(hx, hy))
        return corners, radius


def make_primitives(kind, params, sem, inst=0, refl=0.3, porosity=0.0,
                    depth_jitter=0.0, agent=-1) -> Primitives:
    """Build a table from per-row values (scalars are broadcast).

    Args:
        kind: int or (P,) primitive kinds.
        params: (P, 7) or (7,) geometry rows.
        sem, inst, refl, porosity, depth_jitter, agent: scalars or (P,).

    Returns:
        Primitives: the table.
    """
    params = np.atleast_2d(np.asarray(params, dtype=np.float64))
    n = len(params)

    def col(v, dtype):
        return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

    return Primitives(kind=col(kind, np.int8), params=params,
                      sem=col(sem, np.int32), inst=col(inst, np.int32),
                      refl=col(refl, np.float32),
                      porosity=col(porosity, np.float32),
                      depth_jitter=col(depth_jitter, np.float32),
                      agent=col(agent, np.int32))


def transform_primitives(local: Primitives, x: float, y: float,
                         yaw: float) -> Primitives:
    """Place primitives given in an object frame into the world.

    Args:
        local: Rows in the object frame (x forward, y left, z up).
        x, y: Object position [m] in the world.
        yaw: Object heading [rad].

    Returns:
        Primitives: a copy with centres rotated by ``yaw`` and moved by
        ``(x, y)``, and yaws increased by ``yaw``.
    """
    out = local.select(slice(None))
    out.params = local.params.copy()
    cs, sn = np.cos(yaw), np.sin(yaw)
    lx, ly = local.params[:, 0], local.params[:, 1]
    out.params[:, 0] = x + cs * lx - sn * ly
    out.params[:, 1] = y + sn * lx + cs * ly
    out.params[:, 6] = local.params[:, 6] + yaw
    return out
