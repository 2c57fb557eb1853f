// The portfolio chart, drawn as inline SVG: one bar per sector (or country), as long as what was lent
// there, split into what is still outstanding and what is not (repaid, or lost to a default).
import { svg } from "./elements.js";
import { cents, format } from "./money.js";

const ROW = 26;
const LABEL = 150;
const WIDTH = 640;
const BAR = WIDTH - LABEL - 110;

// slices: [{ key, label, lent, outstanding }] with amounts as the API's strings.
export function sliceChart(slices, title) {
  const rows = slices
    .map((slice) => ({ ...slice, lent: cents(slice.lent), outstanding: cents(slice.outstanding) }))
    .sort((a, b) => b.lent - a.lent);
  const most = Math.max(1, ...rows.map((row) => row.lent));
  const height = ROW * rows.length + 30;
  const bars = rows.map((row, index) => {
    const y = index * ROW;
    const lentWidth = (row.lent * BAR) / most;
    const outstandingWidth = (row.outstanding * BAR) / most;
    return svg(
      "g",
      { class: "row", transform: `translate(0 ${y})` },
      svg("text", { x: LABEL - 8, y: 17, "text-anchor": "end" }, row.label),
      svg("rect", { class: "back", x: LABEL, y: 4, width: lentWidth, height: ROW - 8 }),
      svg("rect", { class: "outstanding", x: LABEL, y: 4, width: outstandingWidth, height: ROW - 8 }),
      svg("text", { x: LABEL + lentWidth + 6, y: 17 }, `$${format(row.lent)}`),
      svg("title", {}, `${row.label}: $${format(row.lent)} lent, $${format(row.outstanding)} outstanding`),
    );
  });
  const legendY = ROW * rows.length + 12;
  return svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: "img", "aria-label": title },
    svg("title", {}, title),
    ...bars,
    svg("rect", { class: "outstanding", x: LABEL, y: legendY, width: 12, height: 12 }),
    svg("text", { x: LABEL + 18, y: legendY + 11 }, "outstanding"),
    svg("rect", { class: "back", x: LABEL + 120, y: legendY, width: 12, height: 12 }),
    svg("text", { x: LABEL + 138, y: legendY + 11 }, "repaid or closed"),
  );
}
