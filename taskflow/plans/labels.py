"""Display names for target kinds and plan levels."""

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "in_library": _l("In library"),
    "re_review": _l("Re-review"),
    "new": _l("New"),
    "cultivated": _l("Cultivated"),
    "attracted": _l("Attracted"),
}

# How a goal's comparator reads: 以上/达到 is "at least", 超过/突破 is "more than", a plain figure "=".
COMPARATOR_LABELS = {">=": "≥", ">": ">", "=": "="}

LEVEL_LABELS = {"city": _l("City plan"), "district": _l("District plan")}

INDICATOR_LABELS = {
    "tech_based": _l("Tech-based enterprises"),
    "high_tech": _l("High-tech enterprises"),
}


def init_app(app) -> None:
    """Template helpers for plan labels."""

    @app.context_processor
    def inject_labels():
        return {
            "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
            "level_label": lambda level: LEVEL_LABELS.get(level, level),
            "comparator_label": lambda comparator: COMPARATOR_LABELS.get(comparator, comparator),
            "indicator_label": lambda code, fallback=None: INDICATOR_LABELS.get(code, fallback or code),
        }
