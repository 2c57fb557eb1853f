"""The world the demo simulates: its field partners, their borrowers' names, towns and crops, what loans
are for, and the lenders' names. Content only; graph/demo/plans.py draws from it with a seeded random."""

from dataclasses import dataclass

from models import CurrencyLossLiability, Sector


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    country: str
    rating: str
    liability: CurrencyLossLiability
    default_odds: float  # chance that a loan stops paying and is written off
    late_odds: float  # chance that a loan pays late all along
    female: tuple[str, ...]
    male: tuple[str, ...]
    neutral: tuple[str, ...]
    groups: tuple[str, ...]
    towns: tuple[str, ...]
    crops: tuple[str, ...]
    currency: str


PARTNERS = (
    PartnerSpec(
        "Kilimo Bora Microfinance", "KE", "4.0", CurrencyLossLiability.SHARED, 0.03, 0.08,
        ("Wanjiru", "Akinyi", "Njeri", "Chebet", "Amina", "Wairimu", "Atieno", "Mumbi", "Nafula", "Jepkorir"),
        ("Otieno", "Kamau", "Kiprop", "Mwangi", "Omondi", "Wafula", "Barasa", "Mutua"),
        ("Imani", "Amani", "Baraka", "Zawadi"),
        ("Tumaini Women Group", "Umoja Self-Help Group", "Jikaze Farmers Group", "Upendo Traders Group"),
        ("Kisumu", "Eldoret", "Nakuru", "Machakos", "Kakamega", "Nyeri"),
        ("maize", "beans", "kale", "tomato"),
        "KES",
    ),
    PartnerSpec(
        "Caja Andina de Credito", "PE", "4.5", CurrencyLossLiability.NONE, 0.01, 0.05,
        ("Rosa", "Yolanda", "Maribel", "Juana", "Lucia", "Elena", "Flor", "Gladys", "Nelly"),
        ("Teodoro", "Wilber", "Juan Carlos", "Edwin", "Hugo", "Percy", "Alberto"),
        ("Alexis", "Cruz", "Ariel"),
        ("Grupo Las Palmeras", "Banco Comunal Santa Rosa", "Grupo Virgen de la Candelaria"),
        ("Cusco", "Huancayo", "Puno", "Ayacucho", "Arequipa", "Cajamarca"),
        ("potato", "quinoa", "coffee", "maize"),
        "PEN",
    ),
    PartnerSpec(
        "Bayanihan Rural Bank", "PH", "3.5", CurrencyLossLiability.NONE, 0.04, 0.10,
        ("Maricel", "Jocelyn", "Rowena", "Analyn", "Lorna", "Marites", "Cherry", "Divina"),
        ("Rodel", "Jun", "Arnel", "Ronaldo", "Efren", "Dante"),
        ("Kim", "Jo", "Sam"),
        ("Samahang Kababaihan Group", "Bagong Pag-asa Group", "Masigasig Vendors Group"),
        ("Bacolod", "Iloilo", "Dumaguete", "Tacloban", "Cebu City"),
        ("rice", "sugarcane", "corn", "banana"),
        "PHP",
    ),
    PartnerSpec(
        "Semilla Maya Microfinanzas", "GT", "3.0", CurrencyLossLiability.SHARED, 0.06, 0.12,
        ("Ana Maria", "Olga", "Marta", "Sandra", "Rosalinda", "Ixchel", "Candelaria"),
        ("Santos", "Julio", "Mario", "Domingo", "Abelino", "Esteban"),
        ("Guadalupe", "Trinidad", "Cruz"),
        ("Grupo Mujeres Emprendedoras", "Grupo Ixoq Ajchak", "Grupo Nuevo Amanecer"),
        ("Quetzaltenango", "Solola", "Chimaltenango", "Coban", "Huehuetenango"),
        ("coffee", "maize", "black bean", "cardamom"),
        "GTQ",
    ),
    PartnerSpec(
        "Sunrise Credit Cambodia", "KH", "2.5", CurrencyLossLiability.LENDER, 0.08, 0.14,
        ("Sokha", "Sreymom", "Chanthou", "Sreyneang", "Bopha", "Kalliyan"),
        ("Sovann", "Vuthy", "Rithy", "Sopheak", "Piseth"),
        ("Dara", "Vanna", "Sophal"),
        ("Phum Thmey Village Bank", "Prey Veng Women's Group", "Kampot Pepper Growers"),
        ("Battambang", "Siem Reap", "Kampong Cham", "Takeo", "Kampot"),
        ("rice", "cassava", "pepper", "mango"),
        "KHR",
    ),
    PartnerSpec(
        "Adom Savings and Loans", "GH", "2.0", CurrencyLossLiability.SHARED, 0.11, 0.16,
        ("Abena", "Akosua", "Ama", "Efua", "Adwoa", "Yaa", "Esi"),
        ("Kwame", "Kofi", "Kwabena", "Yaw", "Kojo", "Kweku"),
        ("Nana", "Elikem", "Sena"),
        ("Nyame Bekyere Group", "Obaapa Traders Group", "Adehye Market Women"),
        ("Kumasi", "Tamale", "Takoradi", "Ho", "Cape Coast"),
        ("cocoa", "cassava", "yam", "plantain"),
        "GHS",
    ),
    PartnerSpec(
        "Imkon Microcredit", "TJ", "1.5", CurrencyLossLiability.LENDER, 0.15, 0.20,
        ("Gulnora", "Mavluda", "Zarina", "Nigora", "Dilorom", "Shahnoza"),
        ("Farhod", "Rustam", "Jamshed", "Bahrom", "Sherali"),
        ("Oydin", "Nur", "Mehr"),
        ("Rohi Nav Group", "Zanoni Fayzobod Group", "Bogi Sabz Growers"),
        ("Khujand", "Kulob", "Bokhtar", "Istaravshan", "Panjakent"),
        ("apricot", "cotton", "potato", "grape"),
        "TJS",
    ),
)  # fmt: skip

# Uses per sector, Kiva style ("to buy ..."); {their} and {crop} are filled in per loan.
USES: dict[Sector, tuple[str, ...]] = {
    Sector.AGRICULTURE: (
        "to buy fertilizer and {crop} seed for the planting season",
        "to buy a dairy cow and sell milk to neighbours",
        "to rent another plot of land and plant {crop}",
        "to install drip irrigation on {their} {crop} farm",
    ),
    Sector.ARTS: (
        "to buy yarn and natural dyes for {their} weaving",
        "to buy clay and glazes for {their} pottery workshop",
        "to buy beads and silver wire for handmade jewelry",
    ),
    Sector.CLOTHING: (
        "to buy fabric and thread for {their} tailoring shop",
        "to buy a second sewing machine and take on an apprentice",
        "to buy bales of second-hand clothes to sell at the market",
    ),
    Sector.CONSTRUCTION: (
        "to buy cement and iron sheets for {their} building business",
        "to buy tools for {their} masonry work",
        "to buy timber for {their} carpentry workshop",
    ),
    Sector.EDUCATION: (
        "to pay school fees for {their} children",
        "to buy desks and books for {their} small school",
        "to pay for a nursing course",
    ),
    Sector.ENTERTAINMENT: (
        "to buy a sound system to rent out for weddings",
        "to buy a projector and screen for a village cinema",
        "to buy new instruments for {their} band",
    ),
    Sector.FOOD: (
        "to buy flour, sugar and oil for {their} bakery",
        "to stock {their} food stall with {crop} and spices",
        "to buy a chest freezer for {their} fish business",
    ),
    Sector.HEALTH: (
        "to buy equipment for {their} community clinic",
        "to stock {their} pharmacy with basic medicines",
        "to buy a water filter for {their} household",
    ),
    Sector.HOUSING: (
        "to replace the leaking roof of {their} house",
        "to connect {their} home to clean piped water",
        "to build a latrine and a rainwater tank",
    ),
    Sector.MANUFACTURING: (
        "to buy raw materials for {their} soap-making business",
        "to buy a welding machine for {their} metal workshop",
        "to buy a grinding mill for {crop}",
    ),
    Sector.PERSONAL_USE: (
        "to install a solar home system",
        "to buy a clean cookstove that uses less firewood",
        "to pay for a household water connection",
    ),
    Sector.RETAIL: (
        "to restock {their} general store",
        "to buy phone credit and accessories to sell",
        "to add more goods to {their} roadside kiosk",
    ),
    Sector.SERVICES: (
        "to buy a new chair and clippers for {their} barbershop",
        "to buy hair dryers for {their} beauty salon",
        "to buy a generator for {their} phone-charging service",
    ),
    Sector.TRANSPORTATION: (
        "to make a down payment on a motorbike taxi",
        "to repair the engine of {their} minibus",
        "to buy a cargo tricycle for deliveries",
    ),
    Sector.WHOLESALE: (
        "to buy {crop} in bulk and resell it to shops",
        "to buy sacks of rice and sugar to supply local stores",
        "to buy stock for {their} wholesale business",
    ),
}

ACTIVITY: dict[Sector, str] = {
    Sector.AGRICULTURE: "farming",
    Sector.ARTS: "crafts",
    Sector.CLOTHING: "tailoring and selling clothes",
    Sector.CONSTRUCTION: "building",
    Sector.EDUCATION: "looking after a family and a small business",
    Sector.ENTERTAINMENT: "running events",
    Sector.FOOD: "selling food",
    Sector.HEALTH: "health care",
    Sector.HOUSING: "running a small business from home",
    Sector.MANUFACTURING: "making goods to sell",
    Sector.PERSONAL_USE: "running a small business from home",
    Sector.RETAIL: "running a shop",
    Sector.SERVICES: "serving customers",
    Sector.TRANSPORTATION: "transport",
    Sector.WHOLESALE: "trading",
}

CLOSING: dict[Sector, str] = {
    Sector.EDUCATION: "Schooling comes first in this family.",
    Sector.HEALTH: "Good health keeps the whole family working.",
    Sector.HOUSING: "A safe, dry home protects the family's health and savings.",
    Sector.PERSONAL_USE: "It will save the household money every month.",
}

# Sectors whose loans run longer (and the rest shorter), as on Kiva.
LONG_SECTORS = {Sector.HOUSING, Sector.EDUCATION, Sector.CONSTRUCTION, Sector.TRANSPORTATION, Sector.PERSONAL_USE}
SHORT_TERMS = (6, 6, 8, 8, 9, 10, 10, 12, 12, 12, 14)
LONG_TERMS = (10, 12, 12, 14, 14, 16, 18, 20, 24, 24)

LENDER_FIRST = (
    "Maya", "Tom", "Aiko", "Lars", "Priya", "Daniel", "Sofia", "Kenji", "Amara", "Lucas", "Ingrid", "Omar",
    "Chloe", "Mateo", "Hannah", "Ravi", "Elena", "Jonas", "Fatima", "Noah", "Grace", "Pierre", "Mei", "Samuel",
    "Olga", "Diego", "Leila", "Ben", "Anika", "Tariq",
)  # fmt: skip
LENDER_LAST = (
    "Lindqvist", "Okafor", "Tanaka", "Berg", "Raman", "Schmidt", "Rossi", "Mori", "Diallo", "Ferreira",
    "Haugen", "Haddad", "Martin", "Garcia", "Weber", "Iyer", "Petrova", "Keller", "Benali", "Clarke",
    "Nguyen", "Dubois", "Chen", "Mensah", "Novak", "Alvarez", "Karimi", "Walsh", "Jansen", "Aziz",
)  # fmt: skip

# Share sizes lenders pick, in cents, and how often.
SHARE_SIZES = (2500, 5000, 10000, 15000, 20000, 25000, 50000, 100000)
SHARE_WEIGHTS = (14, 14, 20, 10, 12, 12, 12, 6)
