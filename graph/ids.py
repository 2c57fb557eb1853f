"""Relay global ids ("Loan:42", base64) to database ids and back."""

from strawberry.relay import GlobalID

from lending.errors import NotFound


def decode_id(value: str, type_name: str) -> int:
    """The database id inside a global id of `type_name`; NotFound for anything else."""
    try:
        gid = GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError
        ident = int(gid.node_id)
        if str(ident) != gid.node_id:  # int() forgives " 1", "01" and "1_0"; an id must be exact
            raise ValueError
    except ValueError:
        raise NotFound(type_name.lower(), value) from None
    if not 0 < ident < 2**31:
        raise NotFound(type_name.lower(), value)
    return ident


def encode_id(type_name: str, ident: int) -> str:
    return str(GlobalID(type_name, str(ident)))
