"""Relay global ids ("Loan:42", base64) to database ids and back."""

import inspect

import strawberry
from strawberry import cast as strawberry_cast
from strawberry import relay
from strawberry.relay import GlobalID, GlobalIDValueError

from lending.errors import NotFound

MAX_ID = 2**31 - 1  # an INTEGER primary key


def parse_key(node_id: str) -> int | None:
    """The database id a global id's key spells, or None: keys are canonical decimals from 1 to MAX_ID.

    int() alone would take " 1", "01", "1_0", "+1" and U+0661 (an Arabic-Indic
    one), and numbers no column holds.
    """
    if not (node_id.isascii() and node_id.isdigit()) or node_id.startswith("0") or len(node_id) > len(str(MAX_ID)):
        return None
    ident = int(node_id)
    return ident if ident <= MAX_ID else None


def decode_id(value: str, type_name: str) -> int:
    """The database id inside a global id of `type_name`; NotFound for anything else."""
    try:
        gid = GlobalID.from_id(value)
    except ValueError:  # not base64, no colon, not UTF-8 (GlobalIDValueError is a ValueError)
        raise NotFound(type_name.lower(), value) from None
    ident = parse_key(gid.node_id) if gid.type_name == type_name else None
    if ident is None:
        raise NotFound(type_name.lower(), value)
    return ident


def encode_id(type_name: str, ident: int) -> str:
    return str(GlobalID(type_name, str(ident)))


async def find_node(info: strawberry.Info, value: str) -> relay.Node | None:
    """`node(id:)`: the object a global id names, or None when it names none.

    None, not an error, for an id that is no global id, of a type that is no
    Node, or whose key is no database id (parse_key): each Node type's
    resolve_nodes may take its keys as database ids.
    """
    try:
        gid = GlobalID.from_id(value)
        node_type = gid.resolve_type(info)
    except GlobalIDValueError:
        return None
    if parse_key(gid.node_id) is None:
        return None
    found = node_type.resolve_node(gid.node_id, info=info, required=False)
    if inspect.isawaitable(found):
        found = await found
    # Cast, as strawberry's own node field does: the Node interface then need not guess the type.
    return strawberry_cast(node_type, found) if found is not None else None
