"""Every figure the generator uses, with where it comes from.

`PAPER` figures are the source paper's (`../shared/seed/BRIEF.md`, "Foshan before the reform" and the
mechanisms); `ASSUMED` figures are ours, chosen to be plausible where the paper is silent, and are named
as such in docs/population.md. Exit thresholds are not here: they are read from eligibility's parameter
files (the rules in force), so the population follows them if they change.
"""

from __future__ import annotations

# -- totals (PAPER: "12,300 subsidised units, 38,600 households, 97,800 people, 28 housing estates") ----
UNITS = 12_300
HOUSEHOLDS = 38_600
PEOPLE = 97_800
ESTATES = 28

# -- violations (PAPER: "violating occupancy 15 % of households, of which 62 % subletting/lending and
# 28 % vacant"); the remaining 10 % is "other": staying while no longer qualifying, concealed. ---------
VIOLATING_SHARE = "0.15"
SUBLET_OR_LEND_SHARE = "0.62"
VACANT_SHARE = "0.28"
OTHER_VIOLATION_SHARE = "0.10"
SUBLET_SHARE_OF_SUBLET_OR_LEND = "0.60"
"""ASSUMED: the paper does not split subletting from lending; subletting (for money) is taken as the
larger part."""

CROSS_REGION_MATCHES = 48
"""PAPER: "48 cross-region household records verified" (mechanism 10): the known set of matches."""

EXIT_TRIGGER_SHARE = "0.08"
"""ASSUMED from PAPER's "exit rate about 8 % a year": households whose department facts meet an exit
condition at the starting point (the year's flow the review should catch), concealed-income cases included."""

# ASSUMED: how the triggered households split over the three rules, and how many meet a second one.
TRIGGER_WEIGHTS = (("income_per_capita", 50), ("housing_area", 30), ("financial_assets", 20))
SECOND_TRIGGER_SHARE = "0.15"

# ASSUMED: data quality problems that send a household to manual review (missing, stale, conflicting).
MISSING_ASSETS_SHARE = "0.015"
STALE_INCOME_SHARE = "0.010"
CONFLICTING_INCOME_SHARE = "0.005"
AT_THRESHOLD_SHARE = "0.002"
"""ASSUMED: households exactly at a threshold (3,960.00 yuan, 60.00 m², 200,000.00 yuan): they qualify
(exit is strictly greater), an edge every rule engine must get right."""

# ASSUMED: household size distribution (1..6 people), then adjusted to the paper's exact people total
# (mean 97,800 / 38,600 = 2.53 people per household).
SIZE_WEIGHTS = ((1, 24), (2, 27), (3, 28), (4, 15), (5, 4), (6, 2))
MAX_SIZE = 6
DISABLED_SHARE = "0.06"
"""ASSUMED: about the national share of people with a disability."""
MIGRANT_SHARE = "0.40"
"""ASSUMED: households whose registration (hukou) is outside Foshan (PAPER: beneficiaries include
migrant workers and newly employed staff)."""

# ASSUMED: Foshan's five districts (PAPER names Chancheng and Nanhai) and how the 28 estates spread.
DISTRICTS = (("Chancheng", 8), ("Nanhai", 9), ("Shunde", 6), ("Sanshui", 3), ("Gaoming", 2))
DISTRICT_CODES = {
    "Chancheng": "440604",
    "Nanhai": "440605",
    "Shunde": "440606",
    "Sanshui": "440607",
    "Gaoming": "440608",
}

# ID-number region codes of people registered elsewhere, and the city code the registration fact gives.
ELSEWHERE_REGIONS = (
    ("440106", "CN-GZ"),
    ("441900", "CN-DG"),
    ("442000", "CN-ZS"),
    ("441202", "CN-ZQ"),
    ("440802", "CN-ZJ"),
    ("440902", "CN-MM"),
    ("430102", "CN-CS"),
    ("450102", "CN-NN"),
    ("360102", "CN-NC"),
)

PEER_CITIES = ("CN-GZ", "CN-DG", "CN-ZS", "CN-ZQ")
"""PAPER: "4 neighbouring cities including Guangzhou and Dongguan"; Zhongshan and Zhaoqing border Foshan."""
PEER_NAMES = {"CN-GZ": "Guangzhou", "CN-DG": "Dongguan", "CN-ZS": "Zhongshan", "CN-ZQ": "Zhaoqing"}
PEER_MATCH_WEIGHTS = (("CN-GZ", 40), ("CN-DG", 30), ("CN-ZS", 15), ("CN-ZQ", 15))
"""ASSUMED: matches by neighbour, roughly by size and closeness."""
PROPERTY_ELSEWHERE_WEIGHT = 2
HOUSED_ELSEWHERE_WEIGHT = 1
"""ASSUMED: two of three matches own property there, one holds housing support there."""
PEER_RESIDENTS = 400
"""ASSUMED: people in each peer's data set who are unknown to Foshan (scaled)."""
PEER_KNOWN_NO_MATCH = 60
"""ASSUMED: Foshan members each peer knows with no category true (scaled, per peer)."""

# ASSUMED: occupancy signals.
LONG_ABSENCE_SHARE = "0.005"
"""Non-violating housed households away for the whole window (hospital stay, family care): a vacancy
warning that an inspector should dismiss (PAPER: 127 warnings, far fewer violations confirmed)."""
PARTIAL_ABSENCE_SHARE = "0.03"
"""Non-violating households away for 7 to 20 days of the window: no warning expected."""
FACE_SHARE = "0.5"
"""Adults who also enrolled a face template besides their card."""

EMPLOYED_SHARE = "0.75"
"""ASSUMED: adults of working age (18-60) with a contributing job (social-insurance facts)."""
