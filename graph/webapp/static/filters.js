// The fields of a LoanFilter (README "The API"), as a form: used to browse loans and as an auto-lend
// rule's criteria. `read()` gives the filter the API takes; `write()` fills the form from a saved one.
import { h, words } from "./elements.js";
import { request } from "./graphql.js";

export const SECTORS = [
  "AGRICULTURE", "ARTS", "CLOTHING", "CONSTRUCTION", "EDUCATION", "ENTERTAINMENT", "FOOD", "HEALTH",
  "HOUSING", "MANUFACTURING", "PERSONAL_USE", "RETAIL", "SERVICES", "TRANSPORTATION", "WHOLESALE",
];
export const GENDERS = ["FEMALE", "MALE", "NONBINARY", "MIXED_GROUP"];
export const SORTS = ["NEWEST", "EXPIRING_SOON", "AMOUNT_LEFT", "LOAN_AMOUNT", "LOAN_AMOUNT_DESC"];
const RATINGS = ["", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"];

function choices(name, values, label) {
  const options = values.map(([value, text]) => h("option", { value }, text));
  const select = h("select", { name, multiple: true, size: 4 }, options);
  return [h("label", {}, label, select), select];
}

function picked(select) {
  return Array.from(select.selectedOptions, (option) => option.value);
}

function pick(select, values) {
  for (const option of select.options) option.selected = values.includes(option.value);
}

// countries: [{isoCode, name}] from the partners the API lists.
export function filterForm(countries, onChange) {
  const [sectorsLabel, sectors] = choices("sectors", SECTORS.map((s) => [s, words(s)]), "Sectors");
  const [gendersLabel, genders] = choices("genders", GENDERS.map((g) => [g, words(g)]), "Borrowers");
  const [countriesLabel, countryList] = choices("countries", countries.map((c) => [c.isoCode, c.name]), "Countries");
  const stars = RATINGS.map((r) => [r, r ? `${r} stars` : "any"]);
  const rating = (name) => h("select", { name }, stars.map(([value, text]) => h("option", { value }, text)));
  const ratingMin = rating("riskRatingMin");
  const ratingMax = rating("riskRatingMax");
  const keywords = h("input", { name: "keywords", type: "search", placeholder: "words in name, use or story" });
  const maxTerm = h("input", { name: "maxTermMonths", type: "number", min: 1, max: 120, placeholder: "any" });
  const fields = [sectors, genders, countryList, ratingMin, ratingMax, keywords, maxTerm];
  for (const field of fields) field.addEventListener("change", () => onChange?.());
  const element = h(
    "fieldset",
    { class: "filter" },
    sectorsLabel,
    gendersLabel,
    countriesLabel,
    h("div", { class: "stack" },
      h("label", {}, "Partner rating from ", ratingMin),
      h("label", {}, "to ", ratingMax),
      h("label", {}, "Longest term (months) ", maxTerm),
      h("label", {}, "Keywords ", keywords),
    ),
  );

  function read() {
    const filter = {};
    const lists = { sectors: picked(sectors), genders: picked(genders), countries: picked(countryList) };
    for (const [name, values] of Object.entries(lists)) if (values.length) filter[name] = values;
    if (ratingMin.value) filter.riskRatingMin = ratingMin.value;
    if (ratingMax.value) filter.riskRatingMax = ratingMax.value;
    const words = keywords.value.split(/\s+/).filter(Boolean);
    if (words.length) filter.keywords = words;
    if (maxTerm.value) filter.maxTermMonths = Number(maxTerm.value);
    return filter;
  }

  function write(saved) {
    pick(sectors, saved.sectors ?? []);
    pick(genders, saved.genders ?? []);
    pick(countryList, saved.countries ?? []);
    ratingMin.value = saved.riskRatingMin ? Number(saved.riskRatingMin).toFixed(1) : "";
    ratingMax.value = saved.riskRatingMax ? Number(saved.riskRatingMax).toFixed(1) : "";
    keywords.value = (saved.keywords ?? []).join(" ");
    maxTerm.value = saved.maxTermMonths ?? "";
  }

  return { element, read, write };
}

const COUNTRIES = "query Countries { partners(first: 100) { edges { node { country { isoCode name } } } } }";

// The countries loans come from: those of the field partners, by name.
export async function partnerCountries() {
  const { partners } = await request(COUNTRIES);
  const seen = new Map(partners.edges.map(({ node }) => [node.country.isoCode, node.country]));
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}
