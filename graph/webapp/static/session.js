// Signing in with a lender's token, registering a lender, and the account bar (name, credit, add credit).
// The token stays in this tab (sessionStorage): it moves money, so it is not kept in the browser for good.
import { failed, explain } from "./errors.js";
import { h, replace } from "./elements.js";
import { request, useToken } from "./graphql.js";
import { withKey } from "./keys.js";
import { usd } from "./money.js";

const STORAGE = "lendgraph.token";
const ME = "query Me { me { id displayName balance } }";
const REGISTER = `mutation Register($input: RegisterLenderInput!) {
  registerLender(input: $input) {
    __typename
    ... on RegisterLenderSuccess { token lender { displayName } }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}`;
const DEPOSIT = `mutation Deposit($input: DepositInput!) {
  deposit(input: $input) {
    __typename
    ... on DepositSuccess { lender { balance } }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}`;

const listeners = [];
const pendingDeposits = new Map();
export let lender = null; // { id, displayName, balance } while signed in

export function onSession(listener) {
  listeners.push(listener);
}

// Called only when who is signed in changes (not when their balance does).
export function onLender(listener) {
  let seen;
  onSession((current) => {
    if (seen !== undefined && (current?.id ?? null) === seen) return;
    seen = current?.id ?? null;
    listener(current);
  });
}

function changed() {
  for (const listener of listeners) listener(lender);
}

export function setBalance(balance) {
  if (lender) lender.balance = balance;
  changed();
}

export async function refresh() {
  const { me } = await request(ME);
  lender = me;
  changed();
}

export async function signIn(token, say) {
  useToken(token);
  try {
    await refresh();
  } catch (error) {
    useToken(null);
    lender = null;
    changed();
    say(explain(error), "error");
    return;
  }
  if (!lender) {
    useToken(null);
    say("No lender has this token: it may be mistyped or revoked, or be a partner's or an admin's token.", "error");
    changed();
    return;
  }
  sessionStorage.setItem(STORAGE, token);
  say(`Signed in as ${lender.displayName}.`);
}

export function signOut() {
  sessionStorage.removeItem(STORAGE);
  useToken(null);
  lender = null;
  changed();
}

export function restore(say) {
  const token = sessionStorage.getItem(STORAGE);
  if (token) signIn(token, say);
  else changed();
}

function signInForm(say) {
  const token = h("input", { name: "token", type: "password", autocomplete: "off", required: true, size: 40 });
  return h(
    "form",
    {
      class: "signin",
      onsubmit: (event) => {
        event.preventDefault();
        signIn(token.value.trim(), say);
      },
    },
    h("h2", {}, "Sign in with your lender token"),
    h(
      "div",
      { class: "help" },
      h("p", {}, "A lender token is given once, when a lender is registered:"),
      h(
        "ul",
        {},
        h(
          "li",
          {},
          "with the demo data, ",
          h("code", {}, "make run"),
          " (",
          h("code", {}, "lendgraph seed-demo"),
          ") prints a ",
          h("strong", {}, "lender token"),
          ";",
        ),
        h("li", {}, "or register below: the API's ", h("code", {}, "registerLender"), " mutation answers with one."),
      ),
    ),
    h("label", {}, "Token ", token),
    h("button", { type: "submit" }, "Sign in"),
  );
}

function registerForm(say) {
  const name = h("input", { name: "displayName", required: true, maxlength: 100 });
  const email = h("input", { name: "email", type: "email", required: true });
  const shown = h("p", { class: "token", hidden: true });
  return h(
    "form",
    {
      class: "register",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const { registerLender: result } = await request(REGISTER, {
            input: { displayName: name.value.trim(), email: email.value.trim() },
          });
          if (failed(result)) return say(explain(result), "error");
          replace(shown, "Your token (shown once; keep it to sign in again): ", h("code", {}, result.token));
          shown.hidden = false;
          await signIn(result.token, say);
        } catch (error) {
          say(explain(error), "error");
        }
      },
    },
    h("h3", {}, "New here? Register as a lender"),
    h("label", {}, "Name ", name),
    h("label", {}, "Email ", email),
    h("button", { type: "submit" }, "Register"),
    shown,
  );
}

function depositForm(say) {
  const amount = h("input", { name: "amount", value: "100.00", size: 8, inputmode: "decimal" });
  return h(
    "form",
    {
      class: "deposit",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const input = (key) => ({ input: { amount: amount.value.trim(), idempotencyKey: key } });
          const { deposit: result } = await withKey(pendingDeposits, "deposit", "deposit", (key) =>
            request(DEPOSIT, input(key)),
          );
          if (failed(result)) return say(explain(result), "error");
          setBalance(result.lender.balance);
          say(`Added credit: your balance is ${usd(result.lender.balance)}.`);
        } catch (error) {
          say(explain(error), "error");
        }
      },
    },
    h("label", {}, "Add credit $", amount),
    h("button", { type: "submit" }, "Deposit"),
  );
}

export function mountSession(account, panel, say) {
  const forms = [signInForm(say), registerForm(say)];
  const deposit = depositForm(say);
  onSession((current) => {
    panel.hidden = Boolean(current);
    if (!current) {
      replace(panel, forms);
      replace(account, h("span", { class: "muted" }, "Not signed in"));
      return;
    }
    replace(
      account,
      h("span", { class: "who" }, current.displayName),
      h("span", { class: "balance" }, "Credit ", h("strong", { id: "balance" }, usd(current.balance))),
      deposit,
      h("button", { type: "button", onclick: signOut }, "Sign out"),
    );
  });
}
