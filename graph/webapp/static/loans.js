// Browsing fundraising loans: the filter and sort of the `loans` query, pages of 20, a fill bar per loan
// that moves with `loanProgress`, and loans listed while the page is open that match the filter
// (`loanListed` with the same filter) put on top as they arrive.
import { explain, failed } from "./errors.js";
import { date, h, replace, words } from "./elements.js";
import { fillBar } from "./fillbar.js";
import { filterForm, partnerCountries, SORTS } from "./filters.js";
import { request, socketReady, subscribe } from "./graphql.js";
import { lendShare } from "./lending.js";
import { SHARE, usd } from "./money.js";
import { lender, onSession, setBalance } from "./session.js";

const LOAN_FIELDS = `id name use sector gender status amount fundedAmount remainingAmount lenderCount
  termMonths expiresAt country { isoCode name } partner { name riskRating }`;
const LOANS = `query Loans($filter: LoanFilter, $sort: LoanSort, $after: String) {
  loans(filter: $filter, sort: $sort, first: 20, after: $after) {
    totalCount
    edges { node { ${LOAN_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const LISTED = `subscription Listed($filter: LoanFilter, $after: String) {
  loanListed(filter: $filter, after: $after) { eventId loan { ${LOAN_FIELDS} } }
}`;
const PROGRESS = `subscription Progress($loanId: ID!, $after: String) {
  loanProgress(loanId: $loanId, after: $after) { eventId fundedAmount remainingAmount lenderCount status }
}`;
// Each shown loan holds one subscription; a socket may hold 100 (README "Security").
const MOST_SHOWN = 80;

function loanCard(loan, say) {
  const bar = fillBar();
  const status = h("span", { class: "status" });
  const lend = h("button", { type: "button", class: "lend" }, `Lend ${SHARE}`);
  const card = h(
    "article",
    { class: "loan", dataset: { id: loan.id } },
    h("h3", {}, loan.name),
    h("p", { class: "use" }, loan.use),
    h("p", { class: "facts" }, `${loan.country.name} · ${words(loan.sector)} · ${words(loan.gender)}`),
    h("p", { class: "facts" }, `${usd(loan.amount)} over ${loan.termMonths} months · ends ${date(loan.expiresAt)}`),
    h("p", { class: "facts" }, `${loan.partner.name} (partner rated ${loan.partner.riskRating} stars)`),
    bar.element,
    h("div", { class: "actions" }, lend, status),
  );

  let figures = loan;

  // update: the figures of a loanProgress event or a LendSuccess's loan; none: draw again (signed in or out).
  function show(update = {}) {
    figures = { ...figures, ...update };
    bar.show(figures);
    const open = figures.status === "FUNDRAISING";
    status.textContent = open ? "" : words(figures.status);
    card.classList.toggle("closed", !open);
    lend.disabled = !open || !lender;
    lend.title = lender ? "" : "Sign in to lend";
  }

  lend.addEventListener("click", async () => {
    lend.disabled = true;
    try {
      const result = await lendShare(loan.id);
      if (failed(result)) {
        say(explain(result), "error");
      } else {
        show(result.loan);
        setBalance(result.lender.balance);
        const share = `your share is ${usd(result.share.amount)}`;
        say(`You lent ${usd(SHARE)} to ${loan.name}: ${share}, and your credit is now ${usd(result.lender.balance)}.`);
      }
    } catch (error) {
      say(explain(error), "error");
    } finally {
      show();
    }
  });

  show();
  const stop = subscribe(PROGRESS, { loanId: loan.id }, {
    onEvent: ({ loanProgress: event }) => show(event),
    onError: (error) => say(explain(error), "error"),
  });
  return { card, show, stop };
}

export async function mountLoans(panel, say) {
  let countries = [];
  try {
    countries = await partnerCountries();
  } catch (error) {
    say(explain(error), "error");
  }
  const sort = h("select", { name: "sort" }, SORTS.map((value) => h("option", { value }, words(value))));
  const filter = filterForm(countries, () => load());
  sort.addEventListener("change", () => load());
  const count = h("p", { class: "count" });
  const live = h("span", { class: "live", title: "New loans and progress arrive live" }, "live");
  const list = h("div", { class: "loans" });
  const more = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Show more");
  replace(
    panel,
    h("h2", {}, "Loans raising money ", live),
    h(
      "form",
      { class: "browse", onsubmit: (event) => event.preventDefault() },
      filter.element,
      h("label", {}, "Sort by ", sort),
    ),
    count,
    list,
    more,
  );

  let shown = new Map(); // loan id -> card
  let stopListed = () => {};
  let cursor = null;
  let total = 0;
  let generation = 0;

  function current() {
    return { ...filter.read(), statuses: ["FUNDRAISING"] };
  }

  function showCount() {
    count.textContent = total === 1 ? "1 loan" : `${total} loans`;
  }

  function add(loan, { first = false } = {}) {
    if (shown.has(loan.id) || shown.size >= MOST_SHOWN) return;
    const card = loanCard(loan, say);
    shown.set(loan.id, card);
    if (first) list.prepend(card.card);
    else list.append(card.card);
  }

  async function load(next = false) {
    const mine = ++generation;
    const variables = { filter: current(), sort: sort.value, after: next ? cursor : null };
    if (!next) {
      panel.dataset.live = "";
      stopListed();
      for (const card of shown.values()) card.stop();
      shown = new Map();
      list.replaceChildren();
      // Listen before reading, so a loan listed in between is not missed (a duplicate is ignored).
      stopListed = subscribe(LISTED, { filter: variables.filter }, {
        onEvent: ({ loanListed: { loan } }) => {
          if (shown.has(loan.id)) return;
          total += 1;
          showCount();
          add(loan, { first: true });
        },
        onError: (error) => say(explain(error), "error"),
      });
    }
    try {
      const { loans } = await request(LOANS, variables);
      if (mine !== generation) return;
      total = loans.totalCount;
      for (const { node } of loans.edges) add(node);
      cursor = loans.pageInfo.endCursor;
      more.hidden = !loans.pageInfo.hasNextPage || shown.size >= MOST_SHOWN;
      showCount();
    } catch (error) {
      say(explain(error), "error");
    }
    if (!next && (await socketReady()) && mine === generation) panel.dataset.live = "on";
  }

  onSession(() => {
    for (const card of shown.values()) card.show();
  });
  await load();
}
