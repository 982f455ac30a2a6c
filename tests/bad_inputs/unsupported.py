"""Functions the `adgen show` tests feed to the CLI: each is rejected with one clear line."""

import math

LIMIT = 3.0


def guarded(x):
    match x:
        case 0.0:
            return 0.0
    return math.sin(x)


def counts(x):
    yield x


def fine(x):
    return math.sin(x) * x
