"""The subscriptions the stream tests send: a loan's progress, new listings, and a lender's own events."""

PROGRESS = """subscription($loanId: ID!, $after: String) { loanProgress(loanId: $loanId, after: $after) {
  eventId kind amountAdded fundedAmount remainingAmount lenderCount status loan { name } } }"""
LISTED = """subscription($filter: LoanFilter, $after: String) { loanListed(filter: $filter, after: $after) {
  eventId loan { name country { isoCode } sector } } }"""
MINE = """subscription($after: String) { myEvents(after: $after) {
  __typename eventId
  ... on RepaymentCredited { amount principal currencyLoss loan { name } }
  ... on LoanFunded { loan { name status } }
  ... on LoanExpired { refunded }
  ... on LoanRepaid { loan { name } }
  ... on NotificationCreated { notification { id message loan { name } } }
  ... on NotificationsRead { marked unreadCount notificationIds } } }"""
