"""Browsing loans: filters, sorts, keyset pages, single loans and global ids."""

import uuid

import pytest

from models import Loan
from tests.api import partner_token
from tests.querycount import count_queries, count_round_trips

LOANS = """query($filter: LoanFilter, $sort: LoanSort, $first: Int, $after: String) {
  loans(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    edges { cursor node { name amount remainingAmount riskRating country { isoCode name } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


@pytest.fixture
async def market(api, clock):
    """Loans from a Kenyan (3.5 stars) and a Peruvian (1.5 stars) partner, listed an hour apart."""
    kenya = await partner_token("Kenya Partner", "KE", "3.5")
    peru = await partner_token("Peru Partner", "PE", "1.5")
    listings = [
        (
            kenya,
            dict(name="Amina", sector="CLOTHING", gender="FEMALE", amount="500.00", termMonths=12, use="to buy fabric"),
        ),
        (
            kenya,
            dict(
                name="Otieno",
                sector="AGRICULTURE",
                gender="MALE",
                amount="1200.00",
                termMonths=18,
                use="to buy dairy cows",
            ),
        ),
        (
            peru,
            dict(
                name="Rosa",
                sector="FOOD",
                gender="FEMALE",
                amount="300.00",
                termMonths=6,
                use="to stock her bakery",
                countryIsoCode="PE",
            ),
        ),
        (
            peru,
            dict(
                name="Los Andes Group",
                sector="RETAIL",
                gender="MIXED_GROUP",
                amount="2500.00",
                termMonths=24,
                use="to stock a general store",
                countryIsoCode="PE",
            ),
        ),
    ]
    for token, fields in listings:
        await api.loan_id(token, **fields)
        clock.advance(hours=1)
    _, lender = await api.funded_lender("300.00")
    return api, lender


async def loans(api, **variables):
    body = await api.data(LOANS, variables)
    return [edge["node"]["name"] for edge in body["loans"]["edges"]]


async def test_newest_first_by_default(market):
    api, _ = market
    assert await loans(api) == ["Los Andes Group", "Rosa", "Otieno", "Amina"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("EXPIRING_SOON", ["Amina", "Otieno", "Rosa", "Los Andes Group"]),
        ("LOAN_AMOUNT", ["Rosa", "Amina", "Otieno", "Los Andes Group"]),
        ("LOAN_AMOUNT_DESC", ["Los Andes Group", "Otieno", "Amina", "Rosa"]),
    ],
)
async def test_sorts(market, sort, expected):
    api, _ = market
    assert await loans(api, sort=sort) == expected


async def test_amount_left_sorts_by_what_remains_to_fund(market):
    api, lender = market
    assert await loans(api, sort="AMOUNT_LEFT") == ["Rosa", "Amina", "Otieno", "Los Andes Group"]
    otieno = await api.data('{ loans(filter: {keywords: ["DAIRY"]}) { edges { node { id } } } }')
    await api.lend(lender, otieno["loans"]["edges"][0]["node"]["id"], "300.00")
    page = (await api.data(LOANS, {"sort": "AMOUNT_LEFT"}))["loans"]["edges"]
    assert [(e["node"]["name"], e["node"]["remainingAmount"]) for e in page] == [
        ("Rosa", "300.00"),
        ("Amina", "500.00"),
        ("Otieno", "900.00"),
        ("Los Andes Group", "2500.00"),
    ]


@pytest.mark.parametrize(
    ("loan_filter", "expected"),
    [
        ({"countries": ["pe"]}, ["Los Andes Group", "Rosa"]),
        ({"sectors": ["FOOD", "CLOTHING"]}, ["Rosa", "Amina"]),
        ({"genders": ["FEMALE"]}, ["Rosa", "Amina"]),
        ({"riskRatingMin": "3.0"}, ["Otieno", "Amina"]),
        ({"riskRatingMax": "2.0"}, ["Los Andes Group", "Rosa"]),
        ({"keywords": ["stock"]}, ["Los Andes Group", "Rosa"]),
        ({"keywords": ["stock", "bakery"]}, ["Rosa"]),
        ({"maxTermMonths": 12}, ["Rosa", "Amina"]),
        ({"statuses": ["FUNDED"]}, []),
        ({"countries": ["KE"], "genders": ["MALE"], "maxTermMonths": 18}, ["Otieno"]),
    ],
)
async def test_filters(market, loan_filter, expected):
    api, _ = market
    body = await api.data(LOANS, {"filter": loan_filter})
    assert [e["node"]["name"] for e in body["loans"]["edges"]] == expected
    assert body["loans"]["totalCount"] == len(expected)


async def test_pages_follow_cursors_without_gaps_or_repeats(market, clock):
    api, _ = market
    seen = []
    after = None
    while True:
        page = (await api.data(LOANS, {"first": 3, "after": after, "sort": "LOAN_AMOUNT"}))["loans"]
        seen += [e["node"]["name"] for e in page["edges"]]
        assert page["totalCount"] == 4
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Rosa", "Amina", "Otieno", "Los Andes Group"]


async def test_a_new_listing_does_not_shift_the_next_page(market):
    api, _ = market
    first = (await api.data(LOANS, {"first": 2}))["loans"]
    await api.loan_id(await partner_token("Late", "KE", "4.0"), name="Newcomer")
    rest = (await api.data(LOANS, {"first": 10, "after": first["pageInfo"]["endCursor"]}))["loans"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["Otieno", "Amina"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 101}, "first must be 0 to 100"),
        ({"first": -1}, "first must be 0 to 100"),
        ({"after": "not a cursor"}, "cursor is malformed"),
        ({"filter": {"countries": ["XX"]}}, "Unknown country code"),
        ({"filter": {"riskRatingMin": "4.0", "riskRatingMax": "2.0"}}, "riskRatingMin is above riskRatingMax"),
        ({"filter": {"riskRatingMin": "7"}}, "0.5 to 5.0 stars"),
    ],
)
async def test_bad_arguments_are_clear_errors(market, variables, message):
    api, _ = market
    body = await api.post(LOANS, variables)
    assert body["data"] is None
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] in ("INVALID_INPUT",)


async def test_a_cursor_of_another_sort_is_refused(market):
    api, _ = market
    cursor = (await api.data(LOANS, {"first": 1}))["loans"]["pageInfo"]["endCursor"]
    body = await api.post(LOANS, {"first": 1, "after": cursor, "sort": "LOAN_AMOUNT"})
    assert "another list or sort order" in body["errors"][0]["message"]


async def test_loan_and_node_by_global_id(market):
    api, _ = market
    loan_id = (await api.data("{ loans(first: 1) { edges { node { id } } } }"))["loans"]["edges"][0]["node"]["id"]
    by_loan = await api.data("query($id: ID!) { loan(id: $id) { name partner { name riskRating } } }", {"id": loan_id})
    assert by_loan["loan"] == {"name": "Los Andes Group", "partner": {"name": "Peru Partner", "riskRating": "1.5"}}
    by_node = await api.data("query($id: ID!) { node(id: $id) { __typename ... on Loan { name } } }", {"id": loan_id})
    assert by_node["node"] == {"__typename": "Loan", "name": "Los Andes Group"}
    for missing in ("TG9hbjo5OTk5", "bm9wZQ==", "garbage"):
        assert (await api.data("query($id: ID!) { loan(id: $id) { name } }", {"id": missing}))["loan"] is None


async def test_partners_with_their_track_record(market):
    api, _ = market
    body = await api.data(
        "{ partners { totalCount edges { node {"
        " name country { isoCode name } riskRating loanCount defaultRate arrearsRate } } } }"
    )
    assert body["partners"]["totalCount"] == 2
    assert body["partners"]["edges"][1]["node"] == {
        "name": "Peru Partner",
        "country": {"isoCode": "PE", "name": "Peru"},
        "riskRating": "1.5",
        "loanCount": 2,
        "defaultRate": "0.0000",
        "arrearsRate": "0.0000",
    }


async def test_a_page_of_loans_reads_their_partners_in_its_own_query(api, market):
    """Browsing shows each loan's partner: one statement for the page, whatever its size."""
    query = """{ loans(first: 10, sort: LOAN_AMOUNT) { edges { node { name riskRating
        partner { name riskRating country { isoCode } } } } } }"""
    await api.data(query)  # warm up: nothing of the page is cached between operations
    with count_queries() as queries:
        edges = (await api.data(query))["loans"]["edges"]
    assert len(queries.without_outbox_polls()) == 1, queries.report()
    assert [(e["node"]["name"], e["node"]["partner"]["name"], e["node"]["riskRating"]) for e in edges] == [
        ("Rosa", "Peru Partner", "1.5"),
        ("Amina", "Kenya Partner", "3.5"),
        ("Otieno", "Kenya Partner", "3.5"),
        ("Los Andes Group", "Peru Partner", "1.5"),
    ]
    assert all(e["node"]["partner"]["riskRating"] == e["node"]["riskRating"] for e in edges)
    assert {e["node"]["partner"]["country"]["isoCode"] for e in edges} == {"KE", "PE"}
    assert await Loan.filter(partner__name="Peru Partner").count() == 2


BROWSE_FILTERS = [
    {"statuses": ["FUNDRAISING"]},
    {"statuses": ["FUNDRAISING"], "countries": ["KE"], "sectors": ["CLOTHING", "FOOD"]},
    {"statuses": ["FUNDRAISING"], "genders": ["FEMALE"], "riskRatingMin": "3.0", "maxTermMonths": 12},
    {"statuses": ["FUNDRAISING"], "keywords": ["fabric", "buy"], "riskRatingMax": "4.0"},
]


async def test_every_filter_of_a_status_and_order_sends_postgresql_one_statement_text(pg_api):
    """Filters are bound, never written into the SQL, and so are the clauses a filter lacks: PostgreSQL's
    driver prepares each text once per connection and keeps a hundred, and a text per shape of filter
    filled those caches (and the server's memory) with browse statements alone."""
    partner = await partner_token()
    await pg_api.loan_id(partner, name="Amina", use="to buy fabric", amount="100.00", termMonths=12)
    await pg_api.loan_id(partner, name="Otieno", use="to buy cows", sector="AGRICULTURE", gender="MALE")

    texts, names = set(), []
    for loan_filter in BROWSE_FILTERS:
        with count_round_trips() as trips:
            found = (await pg_api.data(LOANS, {"filter": loan_filter, "first": 1}))["loans"]
        names.append((found["totalCount"], [edge["node"]["name"] for edge in found["edges"]]))
        texts.add(tuple(trips.statements))
    assert names == [(2, ["Otieno"]), (1, ["Amina"]), (1, ["Amina"]), (1, ["Amina"])]
    assert len(texts) == 1, "\n\n".join(map("\n".join, texts))


async def test_browsing_keeps_nothing_per_filter(api, market):
    """A browse's filter is most often used once: the clauses remembered for saved searches and rules
    (lending.filters) must not fill with them, or a worker's memory grows with every new filter."""
    from lending.filters import _clauses

    before = _clauses.cache_info().currsize
    for n in range(1, 13):
        # Words no other test has sent: the cache is the process's.
        loan_filter = {"statuses": ["FUNDRAISING"], "maxTermMonths": n, "keywords": [f"w{uuid.uuid4().hex}"]}
        await api.data(LOANS, {"filter": loan_filter})
    assert _clauses.cache_info().currsize == before
