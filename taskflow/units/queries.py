"""Reads of units: a unit of a plan by the name a person or a document gives."""

from sqlalchemy import select

from taskflow.extensions import db
from taskflow.units.models import Unit, UnitAlias


def unit_by_name(plan_id: int, name: str) -> Unit | None:
    """The unit of this plan named exactly so, or known by this alias (surrounding blanks ignored)."""
    name = name.strip()
    unit = db.session.scalar(select(Unit).where(Unit.plan_id == plan_id, Unit.name == name))
    if unit is None:
        unit = db.session.scalar(
            select(Unit).join(UnitAlias, UnitAlias.unit_id == Unit.id)
            .where(UnitAlias.plan_id == plan_id, UnitAlias.alias == name)
        )
    return unit
