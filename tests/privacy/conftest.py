"""Fixtures of the adversarial suite: the worlds of worlds.py, built once per module."""

from __future__ import annotations

import pytest
from worlds import PLANTED, World, build_world


@pytest.fixture(scope="module")
def planted_world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("with"), planted=PLANTED)
    yield world
    world.stores.dispose()


@pytest.fixture(scope="module")
def control_world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("without"), planted=None)
    yield world
    world.stores.dispose()
