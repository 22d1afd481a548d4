"""SemanticKITTI semantic ids that the synthetic generator writes."""

UNLABELED, CAR, BICYCLIST, PERSON = 0, 10, 31, 30
ROAD, SIDEWALK, BUILDING, FENCE = 40, 48, 50, 51
VEGETATION, TRUNK, TERRAIN, POLE, SIGN = 70, 71, 72, 80, 81
#: Moving counterpart of each agent class (moving-car, -bicyclist, -person).
MOVING_ID = {CAR: 252, BICYCLIST: 253, PERSON: 254}
