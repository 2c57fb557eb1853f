"""The fingerprint an idempotency key is stored with never changes for the same operation and input: keys
stored by an earlier release must still match a request sent again with them after an upgrade."""

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from lending.idempotency import fingerprint


def test_the_fingerprint_of_a_lend_is_the_sha256_of_its_canonical_json():
    canonical = '["lend",{"amount":2500,"loan":7}]'
    assert fingerprint("lend", {"loan": 7, "amount": 2500}) == hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint("lend", {"loan": 7, "amount": 2500}) == (
        "831fab2b3a0af70a3986508eb7813e813abd760873eb8d04590ef2e12d9b5dad"
    )


@given(
    st.sampled_from(["lend", "deposit", "withdraw", "repayment"]),
    st.dictionaries(st.sampled_from(["loan", "amount", "lender", "currency_loss"]), st.integers()),
)
def test_the_order_of_the_input_does_not_matter_and_any_change_of_it_does(operation, payload):
    reordered = dict(reversed(list(payload.items())))
    assert fingerprint(operation, reordered) == fingerprint(operation, payload)
    for name, value in payload.items():
        assert fingerprint(operation, {**payload, name: value + 1}) != fingerprint(operation, payload)
    assert fingerprint(operation + "x", payload) != fingerprint(operation, payload)
