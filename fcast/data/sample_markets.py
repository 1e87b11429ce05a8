"""The markets the sample data draws from: code, name and external features of real countries.

Two pools, in draw order: `MATURE_POOL` (markets launched before the history starts) and
`EMERGING_POOL` (the first ones drawn are new, the next pre-launch). Kept apart from the
generator (`fcast.data.sample`) because they are data, not logic.
"""

from __future__ import annotations

# code, name, population (millions), GDP per capita (kUSD), median age, urban share
MATURE_POOL: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("US", "United States", 334.9, 80.0, 38.5, 0.83),
    ("GB", "United Kingdom", 68.3, 48.9, 40.6, 0.84),
    ("DE", "Germany", 84.5, 52.7, 45.7, 0.78),
    ("FR", "France", 68.2, 44.5, 42.3, 0.81),
    ("SE", "Sweden", 10.5, 55.5, 41.0, 0.88),
    ("NO", "Norway", 5.5, 87.9, 39.8, 0.84),
    ("DK", "Denmark", 5.9, 67.8, 42.0, 0.88),
    ("FI", "Finland", 5.6, 53.0, 43.1, 0.86),
    ("NL", "Netherlands", 17.9, 62.5, 42.4, 0.93),
    ("BE", "Belgium", 11.8, 53.5, 41.6, 0.98),
    ("ES", "Spain", 48.4, 33.5, 45.1, 0.81),
    ("IT", "Italy", 58.9, 38.4, 47.8, 0.72),
    ("PT", "Portugal", 10.5, 27.3, 46.2, 0.67),
    ("IE", "Ireland", 5.3, 104.0, 38.6, 0.64),
    ("AT", "Austria", 9.1, 56.5, 43.6, 0.59),
    ("CH", "Switzerland", 8.8, 99.9, 43.1, 0.74),
    ("PL", "Poland", 36.7, 22.1, 41.9, 0.60),
    ("CZ", "Czechia", 10.9, 30.4, 43.3, 0.74),
    ("HU", "Hungary", 9.6, 22.1, 43.6, 0.73),
    ("RO", "Romania", 19.1, 18.4, 43.2, 0.54),
    ("GR", "Greece", 10.4, 22.9, 46.1, 0.80),
    ("IS", "Iceland", 0.39, 78.8, 37.5, 0.94),
    ("LU", "Luxembourg", 0.66, 128.7, 39.7, 0.92),
    ("MT", "Malta", 0.54, 38.0, 41.1, 0.95),
    ("LI", "Liechtenstein", 0.039, 190.0, 43.5, 0.14),
    ("AD", "Andorra", 0.080, 44.9, 45.6, 0.88),
    ("MC", "Monaco", 0.039, 240.0, 55.4, 1.00),
    ("EE", "Estonia", 1.37, 30.1, 42.4, 0.70),
    ("LV", "Latvia", 1.88, 22.6, 44.0, 0.69),
    ("LT", "Lithuania", 2.87, 27.1, 43.7, 0.68),
    ("CA", "Canada", 40.1, 53.4, 41.6, 0.82),
    ("MX", "Mexico", 128.5, 13.9, 29.8, 0.81),
    ("BR", "Brazil", 216.4, 10.3, 33.9, 0.88),
    ("AR", "Argentina", 46.7, 13.7, 32.4, 0.92),
    ("CL", "Chile", 19.6, 17.1, 36.1, 0.88),
    ("CO", "Colombia", 52.1, 6.9, 31.5, 0.82),
    ("PE", "Peru", 34.4, 7.8, 30.4, 0.79),
    ("UY", "Uruguay", 3.4, 22.6, 35.9, 0.96),
    ("CR", "Costa Rica", 5.2, 16.6, 33.5, 0.82),
    ("AU", "Australia", 26.6, 64.7, 38.0, 0.87),
    ("NZ", "New Zealand", 5.2, 48.5, 38.0, 0.87),
    ("JP", "Japan", 124.5, 33.8, 49.0, 0.92),
    ("KR", "South Korea", 51.7, 33.1, 44.5, 0.81),
    ("TW", "Taiwan", 23.4, 32.3, 43.5, 0.80),
    ("HK", "Hong Kong", 7.5, 50.5, 46.0, 1.00),
    ("SG", "Singapore", 5.9, 84.7, 42.0, 1.00),
    ("MY", "Malaysia", 34.3, 11.6, 31.0, 0.78),
    ("TH", "Thailand", 71.8, 7.2, 40.1, 0.53),
    ("ID", "Indonesia", 277.5, 4.9, 29.9, 0.58),
    ("PH", "Philippines", 117.3, 3.7, 25.7, 0.48),
    ("VN", "Vietnam", 98.9, 4.3, 32.5, 0.39),
    ("IN", "India", 1428.6, 2.5, 28.4, 0.36),
    ("IL", "Israel", 9.8, 52.2, 30.4, 0.93),
    ("TR", "Turkey", 85.3, 13.1, 33.5, 0.77),
    ("ZA", "South Africa", 60.4, 6.0, 28.0, 0.68),
    ("AE", "United Arab Emirates", 9.5, 52.0, 32.6, 0.87),
    ("SA", "Saudi Arabia", 36.9, 30.4, 31.8, 0.85),
    ("EG", "Egypt", 112.7, 3.5, 24.1, 0.43),
    ("NG", "Nigeria", 223.8, 1.6, 18.1, 0.54),
    ("KE", "Kenya", 55.1, 2.0, 20.0, 0.29),
    ("SK", "Slovakia", 5.4, 24.5, 41.9, 0.54),
    ("BG", "Bulgaria", 6.4, 15.8, 45.1, 0.76),
    ("HR", "Croatia", 3.9, 21.9, 44.8, 0.58),
    ("SI", "Slovenia", 2.1, 32.2, 44.8, 0.56),
    ("CY", "Cyprus", 1.26, 34.0, 38.0, 0.67),
    ("EC", "Ecuador", 18.2, 6.5, 28.8, 0.65),
    ("PA", "Panama", 4.5, 18.7, 30.2, 0.69),
    ("DO", "Dominican Republic", 11.3, 10.9, 28.1, 0.84),
    ("GT", "Guatemala", 18.1, 5.8, 22.9, 0.53),
    ("MA", "Morocco", 37.8, 3.7, 29.5, 0.65),
)

# markets not launched before the history: first n_new are "new", next n_prelaunch "prelaunch"
EMERGING_POOL: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("KZ", "Kazakhstan", 19.6, 13.1, 31.2, 0.58),
    ("PK", "Pakistan", 240.5, 1.6, 20.6, 0.38),
    ("BD", "Bangladesh", 173.0, 2.6, 27.6, 0.40),
    ("GH", "Ghana", 34.1, 2.2, 21.5, 0.59),
    ("RS", "Serbia", 6.6, 11.4, 43.3, 0.57),
    ("JO", "Jordan", 11.3, 4.5, 23.8, 0.92),
    ("UZ", "Uzbekistan", 36.4, 2.5, 28.3, 0.50),
    ("LK", "Sri Lanka", 22.0, 3.8, 33.7, 0.19),
    ("QA", "Qatar", 2.7, 81.4, 33.2, 0.99),
    ("TZ", "Tanzania", 67.4, 1.2, 17.7, 0.37),
)

# continent of every market in both pools (the sample's `region` column, a hierarchy level)
_CONTINENTS: dict[str, str] = {
    "Europe": "GB DE FR SE NO DK FI NL BE ES IT PT IE AT CH PL CZ HU RO GR IS LU MT LI AD MC "
    "EE LV LT SK BG HR SI CY RS",
    "North America": "US CA",
    "Latin America": "MX BR AR CL CO PE UY CR EC PA DO GT",
    "Asia Pacific": "AU NZ JP KR TW HK SG MY TH ID PH VN IN KZ PK BD UZ LK",
    "Middle East and Africa": "IL TR ZA AE SA EG NG KE MA GH JO QA TZ",
}
REGIONS: dict[str, str] = {
    code: region for region, codes in _CONTINENTS.items() for code in codes.split()
}
