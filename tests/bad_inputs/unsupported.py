"""Functions the `adgen show` tests feed to the CLI: each is rejected with one clear line."""

import math

LIMIT = 3.0


def guarded(x):
    try:
        return math.sin(x)
    except ValueError:
        return 0.0


def counts(x):
    yield x


def fine(x):
    return math.sin(x) * x
