// A loan's fill bar: how much of it is lent, updated in place as loanProgress events arrive.
import { h } from "./elements.js";
import { cents, percent, usd } from "./money.js";

export function fillBar() {
  const fill = h("div", { class: "fill" });
  const figure = h("span", { class: "figure" });
  const bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
  const element = h("div", { class: "fillbar" }, bar, figure);

  // figures: { amount, fundedAmount, remainingAmount, lenderCount } as the API gives them.
  function show({ amount, fundedAmount, remainingAmount, lenderCount }) {
    const done = percent(cents(fundedAmount), cents(amount));
    fill.style.width = `${done}%`;
    bar.setAttribute("aria-valuenow", done);
    element.dataset.funded = fundedAmount;
    const lenders = lenderCount === 1 ? "1 lender" : `${lenderCount} lenders`;
    const left = `${usd(remainingAmount)} to go`;
    figure.textContent = `${usd(fundedAmount)} of ${usd(amount)} lent (${done}%), ${left}, ${lenders}`;
  }

  return { element, show };
}
