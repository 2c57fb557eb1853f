"""The fault tests' services: one private PostgreSQL cluster for the session, a database and a Redis per test."""

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from bench.p3_fanout.driver import ONE_IP_SETTINGS
from tests.faults.cluster import Cluster, private_cluster
from tests.redis_server import RedisServer, private_redis

# Every client of these tests connects from 127.0.0.1: per-IP limits would refuse them (as in bench P3).
SERVER_ENV = {**ONE_IP_SETTINGS, "EXPIRY_INTERVAL": "0", "AUTOLEND_SWEEP_INTERVAL": "0", "OUTBOX_POLL_INTERVAL": "0.5"}


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    with private_cluster() as started:
        yield started


@pytest.fixture
def database_url(cluster: Cluster) -> str:
    """A migrated database of its own on the private cluster (which is removed at the end)."""
    if not cluster.running():
        cluster.start()  # a test that failed while the cluster was down must not fail the next one
    return asyncio.run(cluster.create_database(f"faults_{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server
