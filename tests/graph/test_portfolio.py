"""A lender's portfolio: what they lent, what is outstanding, what came back.

`me { portfolio { stats shares } }` is readable by the lender alone. Stats
leave out the refunded shares of expired loans; amounts are per share, so a
lender of 75.00 in a 100.00 loan owns three quarters of its repayments,
arrears and write-off. Shares come newest first in keyset pages, and a page
costs the same number of SQL queries whatever its size.
"""

from graph.ids import decode_id
from lending.loans import expire_loans
from models import Lender, Loan, LoanStatus, Share
from tests.api import partner_token
from tests.querycount import count_queries

STATS = """{ me { loanCount balance portfolio { stats {
  loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate
  byCountry { key loanCount lent outstanding }
  bySector { key loanCount lent outstanding }
  byGender { key loanCount lent outstanding } } } } }"""

SHARES = """query($first: Int, $after: String) { me { portfolio { shares(first: $first, after: $after) {
  totalCount
  edges { cursor node { id amount repaidAmount currencyLoss loan { name status partner { name } } } }
  pageInfo { hasNextPage endCursor } } } } }"""

MARK_DEFAULT = """mutation($input: MarkDefaultInput!) { markDefault(input: $input) {
  __typename ... on MarkDefaultSuccess { loan { status } } } }"""


async def lend(api, token: str, loan_id: str, amount: str) -> None:
    result = await api.lend(token, loan_id, amount)
    assert result["__typename"] == "LendSuccess", result


async def repay(api, partner: str, loan_id: str, amount: str, loss: str | None = None) -> None:
    result = await api.repay(partner, loan_id, amount, loss=loss)
    assert result["__typename"] == "PostRepaymentSuccess", result


async def mixed_portfolio(api, clock) -> str:
    """Ada's portfolio, arranged through the API; returns her token. As of 2026-05-16:

    loan           country sector       gender       loan    Ada's  status       Ada repaid (loss)
    Wanjiru        KE      AGRICULTURE  FEMALE       200.00  100.00 REPAID       100.00 (5.00)
    Jorge          PE      RETAIL       MALE         100.00   50.00 DEFAULTED     10.00
    Amina          KE      CLOTHING     FEMALE       100.00   75.00 REPAYING       7.50, in arrears
    Rosa           PE      HOUSING      FEMALE       100.00   25.00 EXPIRED      refunded
    Tindahan Group PH      FOOD         MIXED_GROUP  500.00   25.00 FUNDRAISING
    Bob lends the rest of the first three, so Ada owns only part of each.
    """
    juhudi = await partner_token("Juhudi Kilimo", "KE")
    manos = await partner_token("Manos del Peru", "PE")
    nwtf = await partner_token("NWTF", "PH")
    _, ada = await api.funded_lender("275.00", "Ada")
    _, bob = await api.funded_lender("175.00", "Bob")

    # 2026-03-02: three loans funded at once, one left fundraising.
    wanjiru = await api.loan_id(
        juhudi, name="Wanjiru", sector="AGRICULTURE", amount="200.00", termMonths=4, currencyLossLiability="LENDER"
    )
    jorge = await api.loan_id(
        manos, name="Jorge", countryIsoCode="PE", sector="RETAIL", gender="MALE", amount="100.00", termMonths=2
    )
    amina = await api.loan_id(juhudi, name="Amina", amount="100.00", termMonths=4)  # 25.00 a month
    rosa = await api.loan_id(manos, name="Rosa", countryIsoCode="PE", sector="HOUSING", amount="100.00")
    parts = ((wanjiru, "100.00", "100.00"), (jorge, "50.00", "50.00"), (amina, "75.00", "25.00"))
    for loan_id, ada_part, bob_part in parts:
        await lend(api, ada, loan_id, ada_part)
        await lend(api, bob, loan_id, bob_part)
    await lend(api, ada, rosa, "25.00")
    await repay(api, juhudi, wanjiru, "200.00", loss="10.00")  # lenders bear the loss: Ada 5.00 of it
    await repay(api, manos, jorge, "20.00")
    await repay(api, juhudi, amina, "10.00")

    # 2026-04-02: Rosa's deadline passed; Jorge's loan is declared defaulted.
    clock.advance(days=31)
    assert await expire_loans(clock()) == [decode_id(rosa, "Loan")]
    marked = await api.data(MARK_DEFAULT, {"input": {"loanId": jorge}}, manos)
    assert marked["markDefault"]["loan"]["status"] == "DEFAULTED"

    # 2026-05-16: Amina's first two instalments (50.00) were due; 10.00 came back.
    clock.advance(days=44)
    tindahan = await api.loan_id(
        nwtf, name="Tindahan Group", countryIsoCode="PH", sector="FOOD", gender="MIXED_GROUP", amount="500.00"
    )
    await lend(api, ada, tindahan, "25.00")
    return ada


async def test_portfolio_stats_add_up_a_mixed_portfolio(api, clock):
    ada = await mixed_portfolio(api, clock)

    me = (await api.data(STATS, token=ada))["me"]

    # 275.00 deposited - 275.00 lent + 112.50 repaid + 25.00 refunded
    assert (me["loanCount"], me["balance"]) == (4, "137.50")
    stats = me["portfolio"]["stats"]
    assert {k: v for k, v in stats.items() if not k.startswith("by")} == {
        "loanCount": 4,  # Rosa's refunded share is not part of it
        "lent": "250.00",  # 100 + 50 + 75 + 25
        "outstanding": "92.50",  # Amina 75.00 - 7.50, Tindahan 25.00; nothing on repaid or defaulted loans
        "repaid": "112.50",  # Wanjiru 100.00 - 5.00 loss, Jorge 10.00, Amina 7.50
        "currencyLoss": "5.00",
        "defaulted": "40.00",  # Jorge 50.00 - 10.00
        "defaultRate": "0.1778",  # 40.00 over 225.00 disbursed (Tindahan is not)
        # Ada's 3/4 of Amina's 40.00 past due = 30.00, over 67.50 outstanding in disbursed loans
        "arrearsRate": "0.4444",
    }
    # Largest first.
    assert stats["byCountry"] == [
        {"key": "KE", "loanCount": 2, "lent": "175.00", "outstanding": "67.50"},
        {"key": "PE", "loanCount": 1, "lent": "50.00", "outstanding": "0.00"},
        {"key": "PH", "loanCount": 1, "lent": "25.00", "outstanding": "25.00"},
    ]
    assert stats["bySector"] == [
        {"key": "AGRICULTURE", "loanCount": 1, "lent": "100.00", "outstanding": "0.00"},
        {"key": "CLOTHING", "loanCount": 1, "lent": "75.00", "outstanding": "67.50"},
        {"key": "RETAIL", "loanCount": 1, "lent": "50.00", "outstanding": "0.00"},
        {"key": "FOOD", "loanCount": 1, "lent": "25.00", "outstanding": "25.00"},
    ]
    assert stats["byGender"] == [
        {"key": "FEMALE", "loanCount": 2, "lent": "175.00", "outstanding": "67.50"},
        {"key": "MALE", "loanCount": 1, "lent": "50.00", "outstanding": "0.00"},
        {"key": "MIXED_GROUP", "loanCount": 1, "lent": "25.00", "outstanding": "25.00"},
    ]

    # The same numbers, from the rows they are derived from.
    lender = await Lender.get(display_name="Ada")
    rows = (
        await Share.filter(lender_id=lender.id)
        .exclude(loan__status=LoanStatus.EXPIRED)
        .values_list("amount_cents", "repaid_cents", "loss_cents")
    )
    assert sum(a for a, _, _ in rows) == 25000
    assert sum(r - lost for _, r, lost in rows) == 11250
    assert sum(lost for _, _, lost in rows) == 500
    statuses = dict(await Loan.all().values_list("name", "status"))
    assert statuses == {
        "Wanjiru": LoanStatus.REPAID,
        "Jorge": LoanStatus.DEFAULTED,
        "Amina": LoanStatus.REPAYING,
        "Rosa": LoanStatus.EXPIRED,
        "Tindahan Group": LoanStatus.FUNDRAISING,
    }


async def test_portfolio_shares_list_what_was_lent_newest_first(api, clock):
    ada = await mixed_portfolio(api, clock)

    first = (await api.data(SHARES, {"first": 2}, ada))["me"]["portfolio"]["shares"]
    rest = (await api.data(SHARES, {"first": 2, "after": first["pageInfo"]["endCursor"]}, ada))["me"]["portfolio"][
        "shares"
    ]

    # Like the stats, the list leaves out Rosa's share: it was refunded when her loan expired.
    assert first["totalCount"] == rest["totalCount"] == 4
    assert [e["node"] for e in first["edges"]] + [e["node"] for e in rest["edges"]] == [
        {
            "id": first["edges"][0]["node"]["id"],
            "amount": "25.00",
            "repaidAmount": "0.00",
            "currencyLoss": "0.00",
            "loan": {"name": "Tindahan Group", "status": "FUNDRAISING", "partner": {"name": "NWTF"}},
        },
        {
            "id": first["edges"][1]["node"]["id"],
            "amount": "75.00",
            "repaidAmount": "7.50",
            "currencyLoss": "0.00",
            "loan": {"name": "Amina", "status": "REPAYING", "partner": {"name": "Juhudi Kilimo"}},
        },
        {
            "id": rest["edges"][0]["node"]["id"],
            "amount": "50.00",
            "repaidAmount": "10.00",
            "currencyLoss": "0.00",
            "loan": {"name": "Jorge", "status": "DEFAULTED", "partner": {"name": "Manos del Peru"}},
        },
        {
            "id": rest["edges"][1]["node"]["id"],
            "amount": "100.00",
            "repaidAmount": "100.00",  # principal repaid, the 5.00 currency loss included
            "currencyLoss": "5.00",
            "loan": {"name": "Wanjiru", "status": "REPAID", "partner": {"name": "Juhudi Kilimo"}},
        },
    ]
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]


async def test_an_empty_portfolio_is_all_zeros(api):
    _, token = await api.register("Grace")
    me = (await api.data(STATS, token=token))["me"]
    assert me["portfolio"]["stats"] == {
        "loanCount": 0,
        "lent": "0.00",
        "outstanding": "0.00",
        "repaid": "0.00",
        "currencyLoss": "0.00",
        "defaulted": "0.00",
        "defaultRate": "0.0000",
        "arrearsRate": "0.0000",
        "byCountry": [],
        "bySector": [],
        "byGender": [],
    }
    shares = (await api.data(SHARES, {"first": 10}, token))["me"]["portfolio"]["shares"]
    assert shares == {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_shares_page_by_keyset_without_duplicates_or_misses(api):
    partner = await partner_token()
    _, ada = await api.funded_lender("250.00", "Ada")
    loans = []
    for n in range(1, 8):
        loan_id = await api.loan_id(partner, name=f"Borrower {n}", amount="100.00")
        await lend(api, ada, loan_id, "25.00")
        loans.append(loan_id)
    everything = (await api.data(SHARES, {"first": 100}, ada))["me"]["portfolio"]["shares"]
    newest_first = [f"Borrower {n}" for n in range(7, 0, -1)]
    assert [e["node"]["loan"]["name"] for e in everything["edges"]] == newest_first

    seen, after, pages = [], None, 0
    while True:
        page = (await api.data(SHARES, {"first": 3, "after": after}, ada))["me"]["portfolio"]["shares"]
        pages += 1
        seen += [e["node"]["loan"]["name"] for e in page["edges"]]
        if pages == 1:
            # A share made between pages is newer than the cursor: it neither shifts nor repeats rows.
            late = await api.loan_id(partner, name="Borrower 8", amount="100.00")
            await lend(api, ada, late, "25.00")
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == newest_first  # 3 + 3 + 1, each share once
    assert page["totalCount"] == 8
    # Lending again to a loan grows its share; it does not add a row to the list.
    await lend(api, ada, loans[0], "25.00")
    again = (await api.data(SHARES, {"first": 100}, ada))["me"]["portfolio"]["shares"]
    assert again["totalCount"] == 8
    assert again["edges"][-1]["node"]["amount"] == "50.00"
    assert await Share.all().count() == 8


async def test_a_cursor_from_another_list_is_refused(api):
    partner = await partner_token()
    _, ada = await api.funded_lender("100.00", "Ada")
    for n in range(3):
        await lend(api, ada, await api.loan_id(partner, name=f"Borrower {n}", amount="100.00"), "25.00")
    history = (await api.data("{ me { transactions(first: 1) { pageInfo { endCursor } } } }", token=ada))["me"]
    foreign = history["transactions"]["pageInfo"]["endCursor"]

    # Garbage, and a well-formed cursor of the lender's transactions (a transfer id, not a share id).
    for cursor in ("not-a-cursor", foreign):
        body = await api.post(SHARES, {"first": 2, "after": cursor}, ada)
        assert body.get("errors"), f"cursor {cursor!r} was accepted: {body['data']}"
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert body["data"] is None or body["data"]["me"]["portfolio"] is None


async def test_only_the_lender_may_read_their_portfolio_and_shares(api):
    partner = await partner_token()
    loan_id = await api.loan_id(partner, amount="100.00")
    ada_id, ada = await api.funded_lender("50.00", "Ada")
    _, bob = await api.funded_lender("50.00", "Bob")
    await lend(api, ada, loan_id, "25.00")
    await lend(api, bob, loan_id, "25.00")
    ada_share = (await api.data(SHARES, {"first": 1}, ada))["me"]["portfolio"]["shares"]["edges"][0]["node"]["id"]

    profile = """query($id: ID!) { lender(id: $id) {
        displayName loanCount balance portfolio { stats { lent } shares(first: 5) { totalCount } } } }"""
    share = """query($id: ID!) { node(id: $id) { __typename ... on Share { amount } } }"""

    own = (await api.data(profile, {"id": ada_id}, ada))["lender"]
    assert own == {
        "displayName": "Ada",
        "loanCount": 1,
        "balance": "25.00",
        "portfolio": {"stats": {"lent": "25.00"}, "shares": {"totalCount": 1}},
    }
    assert (await api.data(share, {"id": ada_share}, ada))["node"] == {"__typename": "Share", "amount": "25.00"}

    # Another lender, a partner and an anonymous caller see the public profile only.
    for token in (bob, partner, None):
        seen = (await api.data(profile, {"id": ada_id}, token))["lender"]
        assert seen == {"displayName": "Ada", "loanCount": 1, "balance": None, "portfolio": None}
        assert (await api.data(share, {"id": ada_share}, token))["node"] is None
    assert (await api.data("{ me { portfolio { stats { lent } } } }"))["me"] is None


async def test_a_share_page_costs_the_same_queries_whatever_its_size(api):
    partners = [
        await partner_token("Juhudi Kilimo", "KE"),
        await partner_token("Manos del Peru", "PE"),
        await partner_token("NWTF", "PH"),
    ]
    countries = ["KE", "PE", "PH"]
    _, ada = await api.funded_lender("1000.00", "Ada")
    for n in range(40):
        which = n % 3
        # Every other loan is funded by Ada alone; the rest are still fundraising.
        amount = "25.00" if n % 2 else "100.00"
        loan_id = await api.loan_id(
            partners[which], name=f"Borrower {n}", countryIsoCode=countries[which], amount=amount
        )
        await lend(api, ada, loan_id, "25.00")
    query = """query($first: Int) { me { portfolio { shares(first: $first) { edges { node {
        amount loan { name partner { name riskRating defaultRate } } } } } } } }"""
    await api.data(query, {"first": 1}, ada)  # warm up: the first request of a lender also records them as seen

    counts = {}
    for first in (5, 40):
        with count_queries() as queries:
            page = (await api.data(query, {"first": first}, ada))["me"]["portfolio"]["shares"]
        assert len(page["edges"]) == first
        assert {e["node"]["loan"]["partner"]["name"] for e in page["edges"]} == {
            "Juhudi Kilimo",
            "Manos del Peru",
            "NWTF",
        }
        counts[first] = queries

    assert len(counts[40]) == len(counts[5]), (
        f"5 shares: {len(counts[5])} queries, 40 shares: {len(counts[40])} queries\n"
        f"--- 5 ---\n{counts[5].report()}\n--- 40 ---\n{counts[40].report()}"
    )
    # The token (with its lender), the page of shares with their loans and partners, and the partners'
    # track records: one query each, batched by the DataLoaders.
    assert 3 <= len(counts[40]) <= 10, counts[40].report()


async def test_a_portfolio_page_reads_its_loans_and_partners_with_its_shares(api):
    """The page's query joins each share's loan and partner: the token (with its lender), the page, nothing more."""
    partner = await partner_token("Juhudi Kilimo", "KE")
    _, ada = await api.funded_lender("1000.00", "Ada")
    loans = [await api.loan_id(partner, name=f"Borrower {n}", amount="100.00") for n in range(12)]
    for loan_id in loans:
        await lend(api, ada, loan_id, "25.00")
    query = """query($first: Int) { me { portfolio { shares(first: $first) { edges { node {
        amount loan { id name fundedAmount riskRating partner { name riskRating } } } } } } } }"""
    await api.data(query, {"first": 1}, ada)  # warm up: the first request of a lender also records them as seen
    with count_queries() as queries:
        page = (await api.data(query, {"first": 10}, ada))["me"]["portfolio"]["shares"]["edges"]
    assert len(queries.without_outbox_polls()) == 2, queries.report()
    assert [edge["node"]["loan"]["id"] for edge in page] == loans[::-1][:10]  # newest first
    for edge in page:
        loan = edge["node"]["loan"]
        assert (edge["node"]["amount"], loan["fundedAmount"], loan["name"]) == ("25.00", "25.00", loan["name"])
        assert loan["partner"] == {"name": "Juhudi Kilimo", "riskRating": loan["riskRating"]}
    stored = await Share.filter(loan__name__startswith="Borrower").count()
    assert stored == 12
