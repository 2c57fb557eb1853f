// The signed-in lender's portfolio: its figures (me.portfolio.stats) and a chart by sector or country,
// read again whenever the balance changes (a lend, a deposit, a repayment credited).
import { explain } from "./errors.js";
import { sliceChart } from "./chart.js";
import { h, replace, words } from "./elements.js";
import { request } from "./graphql.js";
import { rate, usd } from "./money.js";
import { onSession } from "./session.js";

const PORTFOLIO = `query Portfolio {
  me {
    portfolio {
      stats {
        loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate
        bySector { key loanCount lent outstanding }
        byCountry { key loanCount lent outstanding }
      }
    }
  }
}`;

function figures(stats) {
  const rows = [
    ["Loans", String(stats.loanCount)],
    ["Lent", usd(stats.lent)],
    ["Repaid", usd(stats.repaid)],
    ["Outstanding", usd(stats.outstanding)],
    ["Lost to currency", usd(stats.currencyLoss)],
    ["Lost to default", usd(stats.defaulted)],
    ["Default rate", rate(stats.defaultRate)],
    ["Arrears rate", rate(stats.arrearsRate)],
  ];
  const items = rows.map(([name, value]) => h("div", {}, h("dt", {}, name), h("dd", {}, value)));
  return h("dl", { class: "figures" }, items);
}

export function mountPortfolio(panel, say) {
  let by = "sector";
  let stats = null;
  const chart = h("div", { class: "chart-box" });
  const choose = h(
    "select",
    { name: "by", onchange: (event) => ((by = event.target.value), draw()) },
    h("option", { value: "sector" }, "by sector"),
    h("option", { value: "country" }, "by country"),
  );

  function draw() {
    const slices = by === "sector" ? stats.bySector : stats.byCountry;
    const labelled = slices.map((slice) => ({ ...slice, label: by === "sector" ? words(slice.key) : slice.key }));
    const title = `Lent by ${by}`;
    replace(chart, labelled.length ? sliceChart(labelled, title) : h("p", {}, "Nothing lent yet."));
  }

  async function load() {
    try {
      const { me } = await request(PORTFOLIO);
      stats = me.portfolio.stats;
      replace(panel, h("h2", {}, "Your portfolio"), figures(stats), h("label", {}, "Chart ", choose), chart);
      draw();
    } catch (error) {
      say(explain(error), "error");
    }
  }

  onSession((lender) => {
    if (lender) load();
    else replace(panel, h("h2", {}, "Your portfolio"), h("p", { class: "muted" }, "Sign in to see your portfolio."));
  });
}
