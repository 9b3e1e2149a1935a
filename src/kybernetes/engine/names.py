"""Generated container names, Docker style: ``adjective_scientist`` (pure, given the names in use)."""

from __future__ import annotations

import random

_LEFT = ("admiring", "brave", "busy", "clever", "dreamy", "eager", "focused", "gallant", "happy", "jolly",
         "keen", "lucid", "modest", "nifty", "quirky", "serene", "sharp", "stoic", "tender", "vibrant", "wizardly", "zen")
_RIGHT = ("babbage", "curie", "dijkstra", "euclid", "feynman", "goodall", "hopper", "hypatia", "kepler", "knuth",
          "lamarr", "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak")


def generate(taken: set[str], rng: random.Random | None = None) -> str:
    r = rng or random.Random()
    for _ in range(100):
        name = f"{r.choice(_LEFT)}_{r.choice(_RIGHT)}"
        if name not in taken:
            return name
    n = 2
    while f"{name}{n}" in taken:
        n += 1
    return f"{name}{n}"
