"""The procedural street scene: what a synthetic sequence is made of.

World frame: x, y on the road plane (z = 0 is the road surface), z up,
metres. Time: scan ``i`` is taken at ``t = i * scan_period`` s (0.1 s,
10 Hz, unless the sensor's rate says otherwise: agents and the ego vehicle
follow continuous trajectories sampled at the scan times).

A scene is a main street whose centre line follows the ego path (the ego
drives in the right lane), a cross street at the ego's first stop, and on
every street: lots with buildings, fences with bushes, parks with trees;
poles, signs, street trees and unlabeled clutter on the sidewalks; parked
cars in the parking lanes; and agents (cars, cyclists, pedestrians) with
their own trajectories: oncoming and cross traffic at many speeds, a car
following the ego, slow cars (1-3 m/s) leaving a parking spot, pedestrians
walking, jogging, standing and crossing, cyclists riding and waiting. An
agent's label is moving (252/253/254) in the scans where it moves faster
than :data:`~.agents.MOVING_SPEED`, else its static class (10/31/30).

One concept a module: :mod:`.streets` (streets and the ground),
:mod:`.ego_path` (the ego trajectory), :mod:`.static_world` (buildings,
vegetation, furniture, parked cars), :mod:`.agents` (moving and standing
things), :mod:`.rich_detail` (what ``detail='rich'`` adds).
:class:`SceneBuilder` combines them in a fixed order, so a seed fixes
every byte of the output.

Scene detail: ``'plain'`` (the default: the scenes the seeds always gave)
or ``'rich'``: the same layout (its own random stream draws the rest) plus
a road with a grade and a camber that the ego vehicle, the agents and the
static world follow, facades with jogs, slanted bays and round corners,
tree crowns and bushes of several lobes, and more movers: buses, trucks,
motorcycles, slow (0.3-0.7 m/s) and fast (3.5-5 m/s) pedestrians, cars and
pedestrians that stop and start again (:class:`~.rich_detail.RichDetail`).
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from .agents import Agent, AgentPlacement
from .ego_path import SCAN_PERIOD, EgoPath
from .geometry import Primitives
from .rich_detail import RichDetail
from .static_world import StaticWorld
from .streets import GroundSurface, Street, StreetLayout

#: The scene details :class:`SceneBuilder` knows.
SCENE_DETAILS = ('plain', 'rich')


class SceneBuilder(EgoPath, StreetLayout, StaticWorld, AgentPlacement,
                   RichDetail):
    """Builds a :class:`Scene` from a random generator.

    Args:
        num_scans: N, scans of the sequence.
        rng: Random generator (all randomness of the layout).
        ego_xy_yaw: Optional (N, 3) ego ``x, y, yaw`` to drive along (e.g.
            a real KITTI trajectory); ``None``: a procedural curved path
            with a speed profile that includes a stop.
        sensor_height: Height of the LiDAR above the road [m].
        scan_period: Time between two scans [s] (0.1: 10 Hz).
        detail: ``'plain'`` or ``'rich'`` (see the module docstring).
        detail_rng: The random stream of the rich detail (default: one
            spawned from ``rng``'s seed; unused by a plain scene).
    """

    def __init__(self, num_scans: int, rng: np.random.Generator,
                 ego_xy_yaw: Optional[np.ndarray] = None,
                 sensor_height: float = 1.73,
                 scan_period: float = SCAN_PERIOD,
                 detail: str = 'plain',
                 detail_rng: Optional[np.random.Generator] = None):
        if not scan_period > 0:
            raise ValueError(f'scan_period must be > 0 s, got {scan_period}')
        if detail not in SCENE_DETAILS:
            raise ValueError(f'unknown scene detail {detail!r}; choose one '
                             f'of {SCENE_DETAILS}')
        self.detail = detail
        self.detail_rng = detail_rng if detail_rng is not None else \
            np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0]) \
            if detail == 'rich' else None
        self.relief = None
        self.n = int(num_scans)
        self.rng = rng
        self.scan_period = float(scan_period)
        self.times = np.arange(self.n) * self.scan_period
        self.sensor_height = sensor_height
        self.next_inst = 1
        self.static_parts: List[Primitives] = []
        self.agents: List[Agent] = []
        self.candidates: list = []
        self.dropped: List[Tuple[str, str]] = []
        self._build_ego(ego_xy_yaw)
        if self.detail == 'rich':
            self._add_relief()

    # -- assembly ---------------------------------------------------------
    def build(self) -> 'Scene':
        """Lay out the streets, the static structure and the agents."""
        self._add_cross_street()
        self._populate_agents()
        if self.detail == 'rich':
            self._rich_agents()
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
        if self.relief is not None:
            self._static_on_relief()
        self._resolve_collisions()
        for ag in self.agents:
            ag.inst = self.next_inst
            self.next_inst += 1
        return Scene(streets=self.streets,
                     static=Primitives.concat(self.static_parts),
                     agents=self.agents, poses=self.ego_poses(),
                     s_crosswalk=self.s_crosswalk, stops=self.stops,
                     ego_s=self.ego_s, lane_offset=main.lane_offset,
                     waves=self.waves, times=self.times,
                     relief=self.relief)


@dataclass
class Scene(GroundSurface):
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
        waves: The ground undulation (plane waves).
        times: (N,) times of the scans [s].
        relief: The grade and camber of a rich scene
            (:func:`~.streets.relief_height`), or None (flat).
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
    times: np.ndarray = None
    relief: Optional[dict] = None

    def primitives(self, i: int) -> Primitives:
        """All primitives of scan ``i`` (static first, then the agents'
        rows with their per-scan labels)."""
        return Primitives.concat(
            [self.static] + [ag.primitives(i, j)
                             for j, ag in enumerate(self.agents)
                             if ag.active[i]])
