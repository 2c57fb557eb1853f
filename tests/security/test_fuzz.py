"""OWASP GraphQL cheat sheet, "Input Validation", tried at random: a property-based fuzz of every mutation's input.

For every mutation of the schema (read from the schema itself, so a new
mutation without a fuzz plan fails `test_every_mutation_has_a_fuzz_plan`),
hypothesis builds its `$input` from the GraphQL input types: each field kept
from a valid input, replaced by a plausible value, by a hostile value of its
own type (unicode, control characters and lone surrogates, very long strings,
decimals with many places, 1e400, NaN and Infinity as strings and as JSON
numbers, integers beyond 32 and 64 bits, numbers too long for Python's JSON
parser, odd ISO dates at the ends of the calendar, global ids of other types,
of huge or negative ints, or plain garbage), by a value of another type
altogether, by null, or left out; plus fields the type does not have, nested
filters with random lists, and whole inputs or `variables` of the wrong shape.

Each input is sent twice: with a token of a caller who may run the mutation,
and with one who may not (another role, a lender token without the scope, a
revoked or never-issued token, no token). Every response must be

- HTTP 200 or 400 (413 only when the body is over the configured limit):
  never a 5xx, never an exception out of the app;
- free of "Internal error" / extensions.code INTERNAL (an unexpected
  exception, masked by graph/pipeline.py masked(); its error id
  and traceback are in the `lendgraph.errors` log, quoted in the failure);
- either a refusal before execution (errors without a `path`, data null) or
  data whose mutation result is the success type or a type implementing
  UserError, with a code and a message; an error from inside a resolver (one
  with a `path`) is an untyped error and fails the test;

and after every request the ledger must balance (`check_books`): the fixture
checks it only once, at the end of the test. The fuzz runs once per mutation,
and once more over all mutations with the app in production mode, which
coerces variables itself to hide "Did you mean" hints (graph/pipeline.py refusals).

Each input is drawn mostly as a valid input with one field replaced, the field
drawn evenly among all fields at every level (so a nested filter's `keywords`
is fuzzed as often as a top-level `amount`), and the other fields left valid,
so that the odd value gets past their checks to wherever it can do harm.

The world (partners, lenders with credit, loans in each state, shares, saved
searches, tokens) is arranged once per test, not per example; examples share
it, so later examples meet the state the earlier ones left (a search deleted,
a loan defaulted, a rule that lent). Lender tokens that an example revoked
are reissued before the next one.

Rate limits are off in this app (tests/security has their own tests): with a
fake clock their windows never end, and the fuzz sends far more money
mutations than a lender may per minute.

`SEEDS` is the regression corpus: the minimal failing inputs the fuzz has
found, replayed on every run (`test_fuzz_regressions`) whatever hypothesis
draws, so a bug once found stays visible until it is fixed, and stays fixed.
Add a seed for each new finding.

Runs are deterministic (`derandomize`, no example database) so that CI is
repeatable. To explore, with more and fresh examples and hypothesis's
statistics (input shapes drawn, answers seen per caller):

    FUZZ_EXAMPLES=500 FUZZ_RANDOM=1 pytest tests/security/test_fuzz.py --hypothesis-show-statistics

The fuzz's world, values, inputs, plans and judging are in tests/security/fuzz/; its fixtures and
tests are here.
"""

import logging
import os
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLScalarType, get_named_type
from graphql.utilities import validate_input_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.ledger import check_books
from tests.api import Api
from tests.clock import FakeClock
from tests.conftest import serve
from tests.security.fuzz.exchange import ErrorLog, fuzz_one, judge, send
from tests.security.fuzz.inputs import variables_for
from tests.security.fuzz.plans import GQL, MUTATIONS, PLANS, SEEDS, merged, result_types
from tests.security.fuzz.values import NODE_TYPES, scalar_values
from tests.security.fuzz.world import World, arrange

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is arranged once per test, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)


# ============================================================== fixtures


@pytest.fixture
async def fuzz_api(request: pytest.FixtureRequest, database_url: str, clock: FakeClock):
    """The API with rate limits off (and, when parametrized so, in production mode); books checked at the end."""
    off = {"rate_limit_per_ip": 0, "rate_limit_per_token": 0, "rate_limit_money_per_lender": 0}
    async with serve(database_url, clock, production=getattr(request, "param", False), **off) as client:
        yield client


@pytest.fixture
async def world(fuzz_api: Api) -> World:
    return await arrange(fuzz_api)


@pytest.fixture
def errors_log():
    """The masked errors' log, kept for the failures to quote; strawberry's log of every refused request, off.

    strawberry logs each GraphQL error with its traceback: thousands of expected refusals would bury
    the one failure. A failure quotes the key lines of its own error's traceback from `lendgraph.errors`.
    """
    collected = ErrorLog()
    errors = logging.getLogger("lendgraph.errors")
    strawberry_log = logging.getLogger("strawberry.execution")
    was_disabled = strawberry_log.disabled
    errors.addFilter(collected)
    strawberry_log.disabled = True
    yield collected
    strawberry_log.disabled = was_disabled
    errors.removeFilter(collected)


# ============================================================== tests


def _input_types(gtype: Any, seen: set[str]) -> None:
    named = get_named_type(gtype)
    if named.name in seen:
        return
    seen.add(named.name)
    if isinstance(named, GraphQLInputObjectType):
        for input_field in named.fields.values():
            _input_types(input_field.type, seen)


def test_every_mutation_has_a_fuzz_plan():
    """A new mutation (or a new scalar in a mutation's input) must come with its fuzz strategy."""
    assert sorted(PLANS) == sorted(MUTATIONS), "add a Plan to PLANS for each new mutation"
    dummy = World(api=None, tokens={}, ids={"Loan": ["x"], "Partner": ["x"]}, lender_pks={})  # type: ignore[arg-type]
    dummy.ids.update({name: ["x"] for name in NODE_TYPES})
    scalars = scalar_values(dummy)
    for name, mutation in MUTATIONS.items():
        assert list(mutation.args) == ["input"], f"{name}: the fuzz sends one `input` argument"
        seen: set[str] = set()
        _input_types(mutation.args["input"].type, seen)
        for type_name in seen:
            gtype = GQL.get_type(type_name)
            if isinstance(gtype, GraphQLScalarType):
                assert type_name in scalars, f"{name}: no fuzz values for the scalar {type_name}"
        success, typed = result_types(name)
        assert success and typed, f"{name}: a result union with a success type and UserErrors"
        plan = PLANS[name]
        assert plan.callers and plan.others and not set(plan.callers) & set(plan.others)


async def test_the_valid_inputs_succeed(world: World, errors_log: ErrorLog):
    """Each plan's valid input succeeds for its first caller: the fuzz starts from the success path."""
    for name, plan in PLANS.items():
        variables = {"input": plan.valid(world)}
        arg = MUTATIONS[name].args["input"].type
        assert not _coercion_errors(variables["input"], arg), name
        exchange = await send(world, name, plan.callers[0], variables)
        assert judge(exchange, errors_log) == "success", f"{exchange}"
    books = await check_books()
    assert books.ok, books.problems


def _coercion_errors(value: Any, gtype: Any) -> list[str]:
    errors: list[str] = []
    validate_input_value(value, gtype, lambda error, path: errors.append(f"{path}: {error.message}"))
    return errors


async def test_fuzz_regressions(world: World, errors_log: ErrorLog):
    """Every seed of the corpus, each judged as the fuzz judges; all failures reported together."""
    failures = []
    for seed in SEEDS:
        variables = {"input": merged(PLANS[seed.mutation].valid(world), seed.fields)}
        try:
            await fuzz_one(world, errors_log, seed.mutation, variables, [seed.caller])
        except AssertionError as failure:
            failures.append(f"[{seed.id}] {failure}")
    assert not failures, f"{len(failures)} of {len(SEEDS)} seeds fail:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("mutation", sorted(PLANS))
@FUZZ_SETTINGS
@given(data=st.data())
async def test_fuzz_mutation(world: World, errors_log: ErrorLog, mutation: str, data: st.DataObject):
    """One input, sent by a caller who may run the mutation and by one who may not; books checked after each."""
    plan = PLANS[mutation]
    variables = data.draw(variables_for(mutation, plan, world), label="variables")
    caller = data.draw(st.sampled_from(plan.callers), label="caller")
    other = data.draw(st.sampled_from(plan.others), label="other caller")
    await fuzz_one(world, errors_log, mutation, variables, [caller, other])


@pytest.mark.parametrize("fuzz_api", [True], indirect=True, ids=["production"])
@settings(FUZZ_SETTINGS, max_examples=2 * EXAMPLES)
@given(data=st.data())
async def test_fuzz_in_production_mode(world: World, errors_log: ErrorLog, data: st.DataObject):
    """Production mode coerces variables itself, without "Did you mean" hints (graph/pipeline.py): fuzz it too."""
    mutation = data.draw(st.sampled_from(sorted(PLANS)), label="mutation")
    plan = PLANS[mutation]
    variables = data.draw(variables_for(mutation, plan, world), label="variables")
    caller = data.draw(st.sampled_from(plan.callers + plan.others), label="caller")
    await fuzz_one(world, errors_log, mutation, variables, [caller])
