"""The PostgreSQL functions kept beside the code that calls them (lending/*.sql).

`lendgraph migrate` (lending.ledger.prepare_database) installs them after the
migrations, each file with CREATE OR REPLACE, so a database always runs the
functions of the code that calls them. On SQLite the same rules run in Python.
"""

from importlib import resources

from tortoise import Tortoise

FILES = (
    "lend.sql",  # lending.funding: a lend in one round trip
    "credit.sql",  # lending.accounts: a deposit or withdrawal in one round trip
)


def source(name: str) -> str:
    """The SQL of one of FILES."""
    return resources.files("lending").joinpath(name).read_text(encoding="utf-8")


async def install() -> None:
    """Create or replace every function on the connected database, if it is PostgreSQL."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "postgres":
        return
    for name in FILES:
        await connection.execute_script(source(name))
