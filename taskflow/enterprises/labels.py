"""Display names of the area's codes (translated lazily)."""

from flask_babel import lazy_gettext as _l

FIGURE_LABELS = {
    "tech_in_library": _l("Tech-based in library"),
    "tech_new": _l("Tech-based new this year"),
    "high_tech_valid": _l("High-tech valid"),
    "high_tech_new": _l("High-tech new this year"),
    "cultivated": _l("Cultivated"),
    "attracted": _l("Attracted"),
    "re_review_due": _l("Re-reviews due this year"),
    "re_reviewed": _l("Re-reviewed this year"),
    "specialised": _l("Specialised SMEs"),
}
METRIC_LABELS = {
    "tech_in_library": _l("Tech-based enterprises (in library)"),
    "high_tech_valid": _l("High-tech enterprises (in library)"),
    "high_tech_new": _l("High-tech: new"),
    "cultivated": _l("High-tech: cultivated"),
    "attracted": _l("High-tech: attracted"),
    "re_reviewed": _l("High-tech: re-reviewed"),
}
SOURCE_LABELS = {"stock": _l("Stock (2022)"), "cultivated": _l("Cultivated"),
                 "attracted": _l("Attracted")}
STATUS_LABELS = {"active": _l("Operating"), "closed": _l("Closed or moved out")}
EVENT_LABELS = {
    "created": _l("Registered"),
    "updated": _l("Details changed"),
    "re_reviewed": _l("Re-reviewed"),
    "transferred": _l("Transferred to another unit"),
    "claim_opened": _l("Claimed by another unit"),
    "claim_kept": _l("Claim refused: kept with its unit"),
    "demo": _l("Demo data"),
}
OUTCOME_LABELS = {
    "new": _l("New enterprise"),
    "changed": _l("Details to change"),
    "unchanged": _l("No change"),
    "conflict": _l("Claim conflict"),
    "invalid": _l("Invalid row"),
}
OUTCOME_CLASSES = {"new": "success", "changed": "primary", "unchanged": "secondary",
                   "conflict": "warning", "invalid": "danger"}
CLAIM_STATE_LABELS = {"open": _l("Waiting for the office"), "kept": _l("Kept with its unit"),
                      "transferred": _l("Transferred")}
FIELD_LABELS = {
    "name": _l("Enterprise name"), "credit_code": _l("Credit code"),
    "unit_id": _l("Attributed unit"), "source": _l("Source"),
    "tech_in_library_on": _l("Tech-based in-library date"),
    "tech_removed_on": _l("Removed from the tech-based library on"),
    "high_tech_cert_no": _l("High-tech certificate number"),
    "high_tech_cert_on": _l("High-tech certification date"),
    "high_tech_first_on": _l("First certified"), "high_tech_expires_on": _l("Certificate expires"),
    "specialised_sme": _l("Specialised SME (专精特新)"), "status": _l("Status"),
    "closed_on": _l("Closed on"), "claimant": _l("Claiming unit"), "import": _l("Import"),
}


def progress_text(p) -> str:
    """How a page, an export and a report print one assessment (taskflow.measures.indicators):
    "完成% / 序时%", a decline, a fall below a target that asks no increase, or no increment."""
    from flask_babel import gettext as _

    from taskflow.measures import indicators as ind

    if p is None or p.state == ind.NO_TARGET:
        return "—"
    if p.state == ind.NO_INCREMENT:
        return _("No increment targeted this year")
    if p.state == ind.BELOW_TARGET:
        return _("No increment targeted this year; %(n)s below the target", n=p.decline)
    if p.state == ind.DECLINE:
        return _("Down by %(n)s", n=p.decline)
    text = f"{p.done_pct}% / {p.expected_pct}%"
    if p.state == ind.REACHED:
        text += " " + (_("exceeded by %(n)s", n=p.surplus) if p.surplus else _("reached"))
    return text


def light_text(light: str) -> str:
    from flask_babel import gettext as _

    return {"green": _("Green"), "yellow": _("Yellow"), "red": _("Red"),
            "grey": "—"}.get(light, light)
