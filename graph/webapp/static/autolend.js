// The auto-lend rule editor (README "Auto-lending"): criteria as a LoanFilter, the amount per loan, the
// balance to keep and the trigger; `autoLendPreview` shows what the rule as edited would fund now,
// without saving it, and `setAutoLendRule` saves it.
import { explain, failed } from "./errors.js";
import { h, replace, words } from "./elements.js";
import { filterForm, partnerCountries } from "./filters.js";
import { request } from "./graphql.js";
import { usd } from "./money.js";
import { onLender } from "./session.js";

const RULE_FIELDS = `enabled amountPerLoan keepBalance trigger idleDays
  criteria { countries sectors genders riskRatingMin riskRatingMax keywords maxTermMonths }`;
const RULE = `query Rule {
  me { autoLendRule { ${RULE_FIELDS} } }
}`;
const PREVIEW = `query Preview($input: AutoLendRuleInput) {
  autoLendPreview(input: $input) {
    __typename
    ... on AutoLendPreview { total note loans { amount loan { id name country { name } sector } } }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}`;
const SAVE = `mutation SaveRule($input: AutoLendRuleInput!) {
  setAutoLendRule(input: $input) {
    __typename
    ... on AutoLendRuleSuccess { rule { ${RULE_FIELDS} } }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}`;
const TRIGGERS = ["IMMEDIATE", "AFTER_IDLE_DAYS", "AFTER_DAYS_WITHOUT_LENDING"];

function editor(countries, rule, say) {
  const criteria = filterForm(countries, () => preview());
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: rule?.enabled ?? true });
  const amount = h("input", { name: "amountPerLoan", value: rule?.amountPerLoan ?? "25.00", size: 8 });
  const keep = h("input", { name: "keepBalance", value: rule?.keepBalance ?? "0.00", size: 8 });
  const trigger = h("select", { name: "trigger" }, TRIGGERS.map((value) => h("option", { value }, words(value))));
  const days = h("input", { name: "idleDays", type: "number", min: 1, size: 4, value: rule?.idleDays ?? "" });
  trigger.value = rule?.trigger ?? "IMMEDIATE";
  if (rule) criteria.write(rule.criteria);
  const result = h("div", { class: "preview", "aria-live": "polite" });

  function input() {
    const value = {
      enabled: enabled.checked,
      criteria: criteria.read(),
      amountPerLoan: amount.value.trim(),
      keepBalance: keep.value.trim(),
      trigger: trigger.value,
    };
    if (trigger.value !== "IMMEDIATE") value.idleDays = Number(days.value) || null;
    return value;
  }

  let asked = 0;

  // Called on every edit: only the answer to the latest question is shown.
  async function preview() {
    const mine = ++asked;
    result.dataset.ready = "";
    try {
      const { autoLendPreview: answer } = await request(PREVIEW, { input: input() });
      if (mine !== asked) return;
      result.dataset.ready = "on";
      if (failed(answer)) return replace(result, h("p", { class: "error" }, explain(answer)));
      const rows = answer.loans.map(({ amount: lent, loan }) =>
        h(
          "tr",
          { dataset: { id: loan.id } },
          h("td", {}, loan.name),
          h("td", {}, `${loan.country.name}, ${words(loan.sector)}`),
          h("td", { class: "amount" }, usd(lent)),
        ),
      );
      replace(
        result,
        h("p", { class: "total" }, `This rule would lend ${usd(answer.total)} now, to ${answer.loans.length} loans.`),
        answer.note ? h("p", { class: "note" }, answer.note) : null,
        rows.length ? h("table", {}, h("tbody", {}, rows)) : null,
      );
    } catch (error) {
      if (mine === asked) replace(result, h("p", { class: "error" }, explain(error)));
    }
  }

  async function save(event) {
    event.preventDefault();
    try {
      const { setAutoLendRule: answer } = await request(SAVE, { input: input() });
      if (failed(answer)) return say(explain(answer), "error");
      say(answer.rule.enabled ? "Your auto-lend rule is saved and on." : "Your auto-lend rule is saved, and off.");
      await preview();
    } catch (error) {
      say(explain(error), "error");
    }
  }

  for (const field of [enabled, amount, keep, trigger, days]) field.addEventListener("change", preview);
  const form = h(
    "form",
    { class: "rule", onsubmit: save },
    h(
      "p",
      { class: "help" },
      "Your idle credit is lent for you to loans that match, 25.00 steps at a time; " +
        "all rules together fund at most half of any loan.",
    ),
    criteria.element,
    h(
      "div",
      { class: "stack" },
      h("label", {}, enabled, " Rule on"),
      h("label", {}, "Amount per loan $", amount),
      h("label", {}, "Always keep $", keep),
      h("label", {}, "When ", trigger),
      h("label", {}, "Days (for the two waiting triggers) ", days),
    ),
    h("button", { type: "button", onclick: preview }, "Preview"),
    h("button", { type: "submit" }, "Save rule"),
  );
  preview();
  return [form, h("h3", {}, "What it would lend now"), result];
}

export function mountAutoLend(panel, say) {
  onLender(async (lender) => {
    const title = h("h2", {}, "Auto-lending");
    if (!lender) return replace(panel, title, h("p", { class: "muted" }, "Sign in to set your auto-lend rule."));
    try {
      const [{ me }, countries] = await Promise.all([request(RULE), partnerCountries()]);
      replace(panel, title, editor(countries, me.autoLendRule, say));
    } catch (error) {
      say(explain(error), "error");
    }
  });
}
