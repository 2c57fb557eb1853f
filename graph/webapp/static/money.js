// Money travels as decimal strings with two places ("25.00", README "Money"). Here it is integer cents,
// never a float: sums and comparisons are exact, and the strings sent back are the API's format.

export const SHARE = "25.00";

export function cents(text) {
  const match = /^([0-9]+)(?:\.([0-9]{1,2}))?$/.exec(text);
  if (!match) throw new Error(`not an amount: ${text}`);
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

// 123456 -> "1,234.56"
export function format(amount) {
  const whole = Math.floor(amount / 100).toLocaleString("en-US");
  return `${whole}.${String(amount % 100).padStart(2, "0")}`;
}

export function usd(text) {
  return `$${format(cents(text))}`;
}

// What share of `whole` `part` is, in whole percent rounded down (a loan is 100% only when full).
export function percent(part, whole) {
  return whole === 0 ? 0 : Math.floor((part * 100) / whole);
}

// A rate as the API gives it ("0.0312": a fraction) shown in percent, from its digits.
export function rate(text) {
  return `${(Number(text) * 100).toFixed(1)}%`;
}
