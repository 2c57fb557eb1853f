"""The GraphQL operations of the load mix, as a web or mobile client of the marketplace sends them."""

BROWSE = """query Browse($filter: LoanFilter, $sort: LoanSort, $after: String) {
  loans(filter: $filter, sort: $sort, first: 20, after: $after) {
    totalCount
    edges { node { id name use sector gender amount remainingAmount lenderCount status expiresAt
      country { isoCode } partner { id name riskRating } } }
    pageInfo { hasNextPage endCursor } } }"""
LOAN = """query Loan($id: ID!) { loan(id: $id) {
  id name use description status amount fundedAmount remainingAmount lenderCount termMonths expiresAt
  partner { id name riskRating defaultRate arrearsRate }
  lenders(first: 10) { totalCount edges { node { displayName } } } } }"""
PORTFOLIO = """query Portfolio { me { balance portfolio {
  stats { loanCount lent outstanding repaid defaultRate arrearsRate }
  shares(first: 10) { totalCount edges { node { amount repaidAmount loan { name status } } } } } } }"""
ME = "query Me { me { id displayName balance } }"
DEPOSIT = """mutation Deposit($input: DepositInput!) { deposit(input: $input) { __typename
  ... on DepositSuccess { lender { balance } } ... on UserError { code message } } }"""
WITHDRAW = """mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) { __typename
  ... on WithdrawSuccess { lender { balance } } ... on UserError { code message } } }"""
LEND = """mutation Lend($input: LendInput!) { lend(input: $input) { __typename
  ... on LendSuccess { loan { id status amount remainingAmount termMonths partner { id } } lender { balance } }
  ... on UserError { code message } } }"""
REPAY = """mutation Repay($input: PostRepaymentInput!) { postRepayment(input: $input) { __typename
  ... on PostRepaymentSuccess { amount loan { id status amount repaidAmount } } ... on UserError { code message } } }"""
LIST = """mutation List($input: ListLoanInput!) { listLoan(input: $input) { __typename
  ... on ListLoanSuccess { loan { id amount } } ... on UserError { code message } } }"""
MY_EVENTS = "subscription Mine($after: String) { myEvents(after: $after) { __typename eventId occurredAt } }"
LISTED = """subscription Listed($filter: LoanFilter, $after: String) { loanListed(filter: $filter, after: $after) {
  eventId occurredAt loan { id name country { isoCode } sector gender amount remainingAmount partner { name } } } }"""
PROGRESS = """subscription Progress($loanId: ID!, $after: String) { loanProgress(loanId: $loanId, after: $after) {
  eventId occurredAt kind amountAdded fundedAmount remainingAmount lenderCount status } }"""
