"""The two-user authorization suite (OWASP GraphQL cheat sheet, "Access Control": data access,
query and mutation access, IDOR), shared by the tests/security/test_access_control_*.py modules.

Every way Bob (or an anonymous caller, a partner,
an admin, or one of Ada's own narrow third-party tokens) could read or touch Ada's
private data, tried against every Query field, node type, connection, mutation that
takes an id, and subscription.

The world (`world.py`): Ada and Bob, each with credit, shares (one repaid in part, so there are
repayment transactions), auto-lend rules that lent to the same loan (so that loan has
allocations from both), notifications (auto-loans, and a saved-search alert for Ada),
saved searches and extra API tokens; plus Carol (a third lender), two field partners
and an admin. Ada and Bob differ in every private value (balance, rule amount, search)
so that a value seen by the wrong viewer is recognisable.

What is private, and to whom: `private.py`. The documents sent: `documents.py`. The cases tried,
reads any viewer may send and mutations on someone else's things: `cases.py`.

How responses are judged (`Audit`, `audit.py`): every document asks `__typename` on each Lender,
private node and Allocation it reaches, so a generic walk of any response can check
that a Lender's private fields are null (or an empty list) unless the viewer is that
lender with the scope the field needs, and not null when they are (the suite fails
both ways); that a Share, Transaction, Notification, SavedSearch or ApiToken appears
only to its owner; and that an allocation names its lender only to that lender. The
ground truth of who owns what is read from the database, not from the API under test.

One test module per surface: test_access_control_reads.py (queries and node(id) over HTTP),
test_access_control_mutations.py, test_access_control_subscriptions.py. Coverage is checked
against the schema itself (test_access_control_schema.py): every Query and Subscription field,
every type implementing Node, every connection, every field that returns a lender's private
type, every mutation that takes an id and every private Lender field must be exercised by a
document or table row of this suite, so adding one without an authorization case fails.
"""
