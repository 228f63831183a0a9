"""The clinic's starting catalogue and rules, from ../shared/DOMAIN.md. Admins edit them after."""

from decimal import Decimal

from django.db import migrations

# kind: (name, description, sessions, interval, min interval, typical, levels rise, buffer)
MODALITIES = {
    "microdermabrasion": (
        "Microdermabrasion",
        "Removes dead cells from the surface of the skin; deeper at higher levels.",
        6,
        14,
        7,
        "every 2 weeks at first; 5 to 12 sessions on average",
        False,
        10,
    ),
    "microneedling": (
        "Microneedling",
        "Collagen induction: micro-injuries trigger collagen and elastin. Numbing cream first;"
        " a consultation comes before the first session.",
        4,
        35,
        28,
        "a series of sessions, several weeks apart",
        False,
        15,
    ),
    "laser_peel": (
        "Laser peel",
        "Superficial laser peel, up to about 30 micrometres.",
        4,
        28,
        14,
        "",
        False,
        10,
    ),
    "laser_resurfacing": (
        "Laser resurfacing",
        "'Polishing' or 'grinding': removes the epidermis and part of the dermis, about 150"
        " micrometres at its deepest. Local anaesthetic.",
        4,
        30,
        21,
        "often 4 sessions about a month apart, depth rising",
        True,
        15,
    ),
}

# kind: [(name, rank, layer, micrometres, needle mm, reaction, downtime days, minutes)]
LEVELS = {
    "microdermabrasion": [
        (
            "Level I",
            1,
            "Stratum corneum",
            None,
            None,
            "Removes superficial dead cells. Redness, most of it gone after 24 hours; skin sensitive"
            " for a few days with a 'wind-burnt' feeling; light flaking after about 2 days.",
            2,
            45,
        ),
        (
            "Level II",
            2,
            "Deep epidermis, up to the dermis",
            None,
            None,
            "For thicker skin or when an aggressive treatment is needed. Redness, sometimes small"
            " abrasions or red stripes; light flaking after about 2 days.",
            3,
            45,
        ),
        (
            "Level III",
            3,
            "Into the living cell layer",
            None,
            None,
            "Aggressive: pinpoint bleeding is visible after the treatment.",
            5,
            60,
        ),
    ],
    "microneedling": [
        (
            "0.5 mm",
            1,
            "Epidermis",
            None,
            Decimal("0.50"),
            "Redness and swelling like sunburn for hours to days.",
            1,
            60,
        ),
        (
            "1.0 mm",
            2,
            "Upper dermis",
            None,
            Decimal("1.00"),
            "Redness and swelling like sunburn for hours to days.",
            2,
            60,
        ),
        (
            "1.5 mm",
            3,
            "Dermis",
            None,
            Decimal("1.50"),
            "Redness and swelling like sunburn for a few days.",
            3,
            75,
        ),
    ],
    "laser_peel": [
        (
            "Peel, up to 30 µm",
            1,
            "Superficial epidermis",
            30,
            None,
            "Superficial: redness for a day or two, light flaking.",
            2,
            30,
        ),
    ],
    "laser_resurfacing": [
        (
            "Superficial",
            1,
            "Epidermis",
            50,
            None,
            "Crusting and redness for a few days, swelling up to 3 days.",
            5,
            60,
        ),
        (
            "Medium",
            2,
            "Epidermis and upper dermis",
            100,
            None,
            "Crusting, redness up to a week, swelling up to 3 days.",
            7,
            75,
        ),
        (
            "Deep",
            3,
            "Epidermis and part of the dermis, about 150 µm",
            150,
            None,
            "Crusting, redness up to a week, swelling up to 3 days.",
            7,
            90,
        ),
    ],
}

# slug: (name, not treatable reason)
INDICATIONS = {
    "dull-dry-rough-skin": ("Dull, dry, rough skin", ""),
    "pigment-stains": ("Pigment stains (non-hormonal)", ""),
    "sun-damage": ("Sun damage / photoageing", ""),
    "acne-oily-skin": ("Active acne and oily skin", ""),
    "acne-scars": ("Acne scars", ""),
    "other-scars": ("Other scars", ""),
    "fine-lines": ("Fine lines and shallow wrinkles", ""),
    "deep-wrinkles": ("Deep wrinkles", ""),
    "enlarged-pores": ("Clogged, enlarged pores", ""),
    "blackheads": ("Blackheads", ""),
    "smokers-skin": ("Smoker's skin", ""),
    "stretch-marks": ("Stretch marks", ""),
    "uneven-texture-tone": ("Uneven texture and tone", ""),
    "freckles": ("Freckles", ""),
    "hormonal-pigmentation": (
        "Hormonal pigmentation (e.g. melasma)",
        "Hormonal pigmentation (such as melasma) is not an indication for these treatments.",
    ),
}

GOOD, LIMITED = "good", "limited"
# (modality kind, indication slug, benefit, note)
TREATS = [
    ("microdermabrasion", "dull-dry-rough-skin", GOOD, ""),
    ("microdermabrasion", "pigment-stains", GOOD, ""),
    ("microdermabrasion", "sun-damage", GOOD, ""),
    ("microdermabrasion", "acne-oily-skin", GOOD, ""),
    ("microdermabrasion", "acne-scars", GOOD, ""),
    ("microdermabrasion", "other-scars", GOOD, ""),
    ("microdermabrasion", "fine-lines", GOOD, ""),
    ("microdermabrasion", "enlarged-pores", GOOD, ""),
    ("microdermabrasion", "blackheads", GOOD, ""),
    ("microdermabrasion", "smokers-skin", GOOD, ""),
    ("microdermabrasion", "uneven-texture-tone", GOOD, ""),
    (
        "microdermabrasion",
        "deep-wrinkles",
        LIMITED,
        "Deep wrinkles sit deeper than microdermabrasion reaches.",
    ),
    (
        "microdermabrasion",
        "stretch-marks",
        LIMITED,
        "Only helps as maintenance: stretch marks sit in deeper layers.",
    ),
    ("microneedling", "acne-scars", GOOD, ""),
    ("microneedling", "other-scars", GOOD, ""),
    ("microneedling", "fine-lines", GOOD, ""),
    ("microneedling", "deep-wrinkles", GOOD, ""),
    ("microneedling", "stretch-marks", GOOD, ""),
    ("microneedling", "uneven-texture-tone", GOOD, ""),
    ("microneedling", "sun-damage", GOOD, ""),
    ("laser_peel", "dull-dry-rough-skin", GOOD, ""),
    ("laser_peel", "pigment-stains", GOOD, ""),
    ("laser_peel", "sun-damage", GOOD, ""),
    ("laser_peel", "fine-lines", GOOD, ""),
    ("laser_peel", "freckles", GOOD, ""),
    ("laser_peel", "uneven-texture-tone", GOOD, ""),
    ("laser_peel", "enlarged-pores", GOOD, ""),
    ("laser_resurfacing", "sun-damage", GOOD, ""),
    ("laser_resurfacing", "pigment-stains", GOOD, ""),
    ("laser_resurfacing", "acne-scars", GOOD, ""),
    ("laser_resurfacing", "other-scars", GOOD, ""),
    ("laser_resurfacing", "fine-lines", GOOD, ""),
    ("laser_resurfacing", "deep-wrinkles", GOOD, ""),
    ("laser_resurfacing", "freckles", GOOD, ""),
]

# slug: (name, extra sessions note)
BODY_AREAS = {
    "face": ("Face", ""),
    "around-eyes": ("Around the eyes", "Thin skin: the gentlest level."),
    "around-lips": ("Around the lips", "Thin skin: the gentlest level."),
    "neck": ("Neck", ""),
    "back": ("Back", "Back skin needs more sessions to show a difference."),
    "arms": ("Arms", ""),
    "abdomen": ("Abdomen", ""),
    "hips": ("Hips", ""),
    "thighs": ("Thighs", ""),
}

# slug: (name, kind, in the pre-session check, modalities here that count as it)
FACTORS = {
    "cold-sore": ("Active cold sore (herpes)", "condition", True, []),
    "laser-ipl": (
        "Laser or IPL treatment",
        "treatment",
        False,
        ["laser_peel", "laser_resurfacing"],
    ),
    "waxing": ("Waxing (resins)", "exposure", True, []),
    "tan": ("Deep tan or sunbathing", "exposure", True, []),
    "sunburn": ("Sunburn", "condition", True, []),
    "isotretinoin": ("Isotretinoin (e.g. Roaccutane)", "medication", False, []),
    "pregnancy": ("Pregnancy", "condition", True, []),
    "keloid": ("Keloid tendency", "condition", False, []),
    "anticoagulants": ("Anticoagulants (blood thinners)", "medication", False, []),
    "infection": ("Active infection (boils, open wounds)", "condition", True, []),
    "rosacea-flare": ("Rosacea flare", "condition", True, []),
    "retinoids": ("Retinoids or exfoliating acids on the skin", "medication", True, []),
}

ALL = []
A, R = "absolute", "relative"
# (name, factor, window days, modalities, levels [(kind, rank)], same area, severity, reason)
RULES = [
    (
        "Active cold sore",
        "cold-sore",
        None,
        ALL,
        [],
        True,
        A,
        "Active cold sore (herpes) in the area: no treatment.",
    ),
    (
        "Laser or IPL in the last 7 days",
        "laser-ipl",
        7,
        ["microdermabrasion"],
        [],
        False,
        A,
        "No microdermabrasion within 7 days after a laser or IPL treatment.",
    ),
    (
        "Waxing of the area in the last 7 days",
        "waxing",
        7,
        ALL,
        [],
        True,
        A,
        "No treatment where the skin was waxed in the last 7 days.",
    ),
    (
        "Deep tan or sunbathing",
        "tan",
        14,
        ALL,
        [],
        False,
        A,
        "Deep tan or sunbathing: no treatment.",
    ),
    ("Sunburn", "sunburn", None, ALL, [], False, A, "Sunburnt skin is not treated."),
    (
        "Isotretinoin in the last 6 months",
        "isotretinoin",
        183,
        ALL,
        [],
        False,
        A,
        "Isotretinoin in the last 6 months: the skin heals poorly and scars.",
    ),
    (
        "Pregnancy",
        "pregnancy",
        None,
        ["microneedling", "laser_peel", "laser_resurfacing"],
        [],
        False,
        A,
        "No laser or microneedling during pregnancy.",
    ),
    (
        "Keloid tendency",
        "keloid",
        None,
        ["microdermabrasion", "microneedling", "laser_resurfacing"],
        [("microdermabrasion", 3)],
        False,
        R,
        "Keloid tendency: deep treatments may cause raised scars.",
    ),
    (
        "Anticoagulants before microneedling",
        "anticoagulants",
        None,
        ["microneedling"],
        [],
        False,
        R,
        "Anticoagulants: more bleeding and bruising after needling.",
    ),
    (
        "Active infection",
        "infection",
        None,
        ALL,
        [],
        True,
        A,
        "Active infection (boils, open wounds) in the area: no treatment.",
    ),
    (
        "Rosacea flare",
        "rosacea-flare",
        None,
        ALL,
        [],
        False,
        R,
        "Rosacea flare: treatment may worsen it.",
    ),
    (
        "Skincare not stopped before microneedling",
        "retinoids",
        5,
        ["microneedling"],
        [],
        False,
        R,
        "Retinoids and exfoliating acids should be stopped before microneedling.",
    ),
]

# (modality kind or None for all, text, days)
AFTERCARE = [
    (None, "protect the skin from the sun (SPF 30 or higher)", 28),
    (None, "no retinoids", 3),
    (None, "no AHAs (fruit acids)", 3),
    (None, "no benzoyl peroxide", 3),
    (None, "use the soothing cream as recommended", 3),
    ("laser_resurfacing", "do not pick the crusts; keep them moist", 7),
    ("microneedling", "no make-up, sauna or swimming", 1),
]


def seed(apps, schema_editor):
    Modality = apps.get_model("treatments", "Modality")
    DepthLevel = apps.get_model("treatments", "DepthLevel")
    Indication = apps.get_model("treatments", "Indication")
    ModalityIndication = apps.get_model("treatments", "ModalityIndication")
    BodyArea = apps.get_model("treatments", "BodyArea")
    Factor = apps.get_model("treatments", "Factor")
    ScreeningRule = apps.get_model("treatments", "ScreeningRule")
    AftercareRule = apps.get_model("treatments", "AftercareRule")

    modalities = {}
    for kind, (name, text, count, interval, minimum, typical, rise, buffer) in MODALITIES.items():
        modalities[kind], _ = Modality.objects.update_or_create(
            kind=kind,
            defaults={
                "name": name,
                "description": text,
                "default_session_count": count,
                "default_interval_days": interval,
                "min_interval_days": minimum,
                "typical_sessions": typical,
                "levels_rise": rise,
                "buffer_minutes": buffer,
            },
        )
    levels = {}
    for kind, rows in LEVELS.items():
        for name, rank, layer, microns, mm, reaction, downtime, minutes in rows:
            levels[kind, rank], _ = DepthLevel.objects.update_or_create(
                modality=modalities[kind],
                rank=rank,
                defaults={
                    "name": name,
                    "layer_reached": layer,
                    "depth_micrometres": microns,
                    "needle_depth_mm": mm,
                    "expected_reaction": reaction,
                    "downtime_days": downtime,
                    "session_minutes": minutes,
                },
            )
    indications = {}
    for slug, (name, refusal) in INDICATIONS.items():
        indications[slug], _ = Indication.objects.update_or_create(
            slug=slug, defaults={"name": name, "not_treatable_reason": refusal}
        )
    for kind, slug, benefit, note in TREATS:
        ModalityIndication.objects.update_or_create(
            modality=modalities[kind],
            indication=indications[slug],
            defaults={"benefit": benefit, "note": note},
        )
    for slug, (name, note) in BODY_AREAS.items():
        BodyArea.objects.update_or_create(
            slug=slug, defaults={"name": name, "extra_sessions_note": note}
        )
    factors = {}
    for slug, (name, kind, in_check, counted) in FACTORS.items():
        factors[slug], _ = Factor.objects.update_or_create(
            slug=slug, defaults={"name": name, "kind": kind, "in_pre_session_check": in_check}
        )
        factors[slug].counts_modalities.set([modalities[k] for k in counted])
    for name, factor, window, kinds, level_keys, same_area, severity, reason in RULES:
        rule, _ = ScreeningRule.objects.update_or_create(
            name=name,
            defaults={
                "factor": factors[factor],
                "window_days": window,
                "same_area_only": same_area,
                "severity": severity,
                "reason": reason,
            },
        )
        rule.modalities.set([modalities[k] for k in kinds])
        rule.levels.set([levels[key] for key in level_keys])
    for position, (kind, text, days) in enumerate(AFTERCARE):
        AftercareRule.objects.update_or_create(
            modality=modalities[kind] if kind else None,
            text=text,
            defaults={"days": days, "position": position},
        )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0002_screening_history_aftercare")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
