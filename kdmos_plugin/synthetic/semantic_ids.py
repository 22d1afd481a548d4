"""SemanticKITTI semantic ids that the synthetic generator writes."""

UNLABELED, CAR, BICYCLIST, PERSON = 0, 10, 31, 30
ROAD, SIDEWALK, BUILDING, FENCE = 40, 48, 50, 51
VEGETATION, TRUNK, TERRAIN, POLE, SIGN = 70, 71, 72, 80, 81
#: The richer scenes' movers (``scene_detail='rich'``).
BUS, TRUCK, MOTORCYCLIST = 13, 18, 32
#: The ego vehicle's own body (a profile's ``ego_body``): other-object, a
#: static class. It moves with the sensor, but no MOS dataset calls the
#: own car a moving object (nuScenes-lidarseg files it as ``vehicle.ego``,
#: KITTI's sensor does not see it), and a model should not flag it.
EGO_BODY = 99
#: Moving counterpart of each agent class (moving-car, -bicyclist, -person,
#: -bus, -truck, -motorcyclist).
MOVING_ID = {CAR: 252, BICYCLIST: 253, PERSON: 254, BUS: 257, TRUCK: 258,
             MOTORCYCLIST: 255}
