// The API's error codes (README "The API" and "Security") as sentences a lender understands. Both kinds
// come here: top-level errors (ApiError: code, details) and the typed failures of a mutation's result
// union (a UserError: __typename, code, message and its own fields).
import { usd } from "./money.js";

const MESSAGES = {
  NETWORK: () => "The server could not be reached. Check your connection, then try again.",
  UNAVAILABLE: (e) => `The service is briefly unavailable. Try again in ${e.retryAfter ?? "a few"} seconds.`,
  RATE_LIMITED: () => "Too many requests in a short time. Wait a minute, then try again.",
  FORBIDDEN: () => "Only a signed-in lender may do that (and the token must allow it). Sign in again.",
  INSUFFICIENT_CREDIT: (e) => `Your credit is ${usd(e.available)}, and this needs ${usd(e.needed)}. Add credit first.`,
  LOAN_NOT_FUNDRAISING: () => "This loan is no longer raising money: it is full, or its time ran out.",
  EXCEEDS_REMAINING: (e) => `Only ${usd(e.remaining)} is left to lend on this loan.`,
  INVALID_AMOUNT: () => "That amount is not accepted: amounts are multiples of 25.00, like 25.00 or 50.00.",
  INVALID_INPUT: (e) => `Please check ${e.field ? `"${e.field}"` : "what you entered"}: ${e.message}`,
  NOT_FOUND: () => "That no longer exists.",
  IDEMPOTENCY_CONFLICT: () => "This request was already used for something else. Please try again.",
  EMAIL_TAKEN: () => "A lender with this email is already registered.",
  QUERY_TIMEOUT: () => "The server took too long to answer. Try again.",
  INTERNAL: (e) => `Something went wrong on the server${e.errorId ? ` (error ${e.errorId})` : ""}. Try again later.`,
};

export function explain(error) {
  const details = error.details ?? error;
  const message = MESSAGES[error.code];
  return message ? message({ ...details, message: error.message }) : `The request failed: ${error.message}`;
}

// A mutation result: its success type, or one of the union's UserError types (they have a `code`).
export function failed(result) {
  return typeof result?.code === "string";
}
