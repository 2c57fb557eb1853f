// Lending one share (25.00) to a loan. Each click is a new idempotency key; a click whose answer was
// lost (no connection, or the service briefly unavailable) is sent again with the same key, so it lends once.
import { request } from "./graphql.js";
import { withKey } from "./keys.js";
import { SHARE } from "./money.js";

const LEND = `mutation Lend($input: LendInput!) {
  lend(input: $input) {
    __typename
    ... on LendSuccess {
      loan { fundedAmount remainingAmount lenderCount status }
      share { amount }
      lender { balance }
    }
    ... on UserError { code message }
    ... on InsufficientCredit { needed available }
    ... on ExceedsRemaining { remaining }
    ... on InvalidInput { field }
  }
}`;

const pending = new Map(); // loan id -> the key of a lend whose answer never came

export async function lendShare(loanId) {
  const { lend } = await withKey(pending, loanId, "lend", (idempotencyKey) =>
    request(LEND, { input: { loanId, amount: SHARE, idempotencyKey } }),
  );
  return lend;
}
