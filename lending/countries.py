"""Countries where loans are listed: ISO 3166-1 alpha-2 code to English name."""

from lending.errors import InvalidInput

COUNTRIES: dict[str, str] = {
    "AL": "Albania", "AM": "Armenia", "AZ": "Azerbaijan", "BA": "Bosnia and Herzegovina",
    "BF": "Burkina Faso", "BI": "Burundi", "BJ": "Benin", "BO": "Bolivia", "BR": "Brazil",
    "BZ": "Belize", "CD": "Democratic Republic of the Congo", "CI": "Cote D'Ivoire",
    "CL": "Chile", "CM": "Cameroon", "CO": "Colombia", "CR": "Costa Rica", "DO": "Dominican Republic",
    "EC": "Ecuador", "EG": "Egypt", "FJ": "Fiji", "GE": "Georgia", "GH": "Ghana", "GT": "Guatemala",
    "HN": "Honduras", "HT": "Haiti", "ID": "Indonesia", "IL": "Israel", "IN": "India", "IQ": "Iraq",
    "JO": "Jordan", "KE": "Kenya", "KG": "Kyrgyzstan", "KH": "Cambodia", "LA": "Laos", "LB": "Lebanon",
    "LR": "Liberia", "LS": "Lesotho", "MD": "Moldova", "MG": "Madagascar", "ML": "Mali", "MM": "Myanmar",
    "MN": "Mongolia", "MW": "Malawi", "MX": "Mexico", "MZ": "Mozambique", "NG": "Nigeria",
    "NI": "Nicaragua", "NP": "Nepal", "PA": "Panama", "PE": "Peru", "PG": "Papua New Guinea",
    "PH": "Philippines", "PK": "Pakistan", "PR": "Puerto Rico", "PS": "Palestine", "PY": "Paraguay",
    "RW": "Rwanda", "SB": "Solomon Islands", "SL": "Sierra Leone", "SN": "Senegal", "SO": "Somalia",
    "SV": "El Salvador", "TG": "Togo", "TJ": "Tajikistan", "TL": "Timor-Leste", "TO": "Tonga",
    "TR": "Turkey", "TZ": "Tanzania", "UA": "Ukraine", "UG": "Uganda", "US": "United States",
    "VN": "Vietnam", "WS": "Samoa", "XK": "Kosovo", "YE": "Yemen", "ZA": "South Africa", "ZM": "Zambia",
    "ZW": "Zimbabwe",
}  # fmt: skip


def country_name(iso_code: str) -> str:
    return COUNTRIES.get(iso_code, iso_code)


def normalize_country(iso_code: str, field: str = "countryIsoCode") -> str:
    """The upper-case ISO code, or InvalidInput for a code we do not know."""
    code = iso_code.strip().upper()
    if code not in COUNTRIES:
        raise InvalidInput(f"Unknown country code {iso_code!r}.", field)
    return code
