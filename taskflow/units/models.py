"""Units, their aliases, and the groups that name them collectively."""

from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import enum_check
from taskflow.extensions import db


class UnitKind(StrEnum):
    """What sort of body a unit is."""

    DEPARTMENT = "department"
    STREET = "street"
    TOWN = "town"
    PARK_COMMITTEE = "park_committee"
    COMMAND_OFFICE = "command_office"
    TASK_FORCE = "task_force"
    EXTERNAL = "external"
    DISTRICT = "district"
    ZONE = "zone"


class PeerGroup(StrEnum):
    """Units ranked against each other (赛马比拼)."""

    DEPARTMENT = "department"
    STREET_TOWN = "street_town"
    PARK_TASK_FORCE = "park_task_force"
    EXTERNAL = "external"
    CENTRAL_URBAN = "central_urban"
    NEW_URBAN = "new_urban"
    NORTHEAST = "northeast"
    SOUTHEAST = "southeast"


# The district plan's groups scored and ranked against each other, in the order pages show them.
RANKED_PEER_GROUPS = (PeerGroup.DEPARTMENT, PeerGroup.STREET_TOWN, PeerGroup.PARK_TASK_FORCE)


unit_group_members = Table(
    "unit_group_members",
    db.metadata,
    Column("group_id", Integer, ForeignKey("unit_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


class Unit(db.Model):
    """A body that receives assignments and targets within one plan's directory."""

    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("plan_id", "name"),
        enum_check("kind", UnitKind),
        enum_check("peer_group", PeerGroup),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    peer_group: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Unit"]] = relationship(back_populates="parent")
    aliases: Mapped[list["UnitAlias"]] = relationship(
        back_populates="unit", cascade="all, delete-orphan"
    )
    groups: Mapped[list["UnitGroup"]] = relationship(
        secondary=unit_group_members, back_populates="members"
    )

    def __repr__(self) -> str:
        return f"<Unit {self.name}>"


class UnitAlias(db.Model):
    """Another spelling of a unit's name used by some document."""

    __tablename__ = "unit_aliases"
    __table_args__ = (UniqueConstraint("plan_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(120))

    unit: Mapped[Unit] = relationship(back_populates="aliases")


class UnitGroup(db.Model):
    """A collective phrase of a plan (各园城、街镇) and the units it stands for."""

    __tablename__ = "unit_groups"
    __table_args__ = (UniqueConstraint("plan_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # An open group ("…等区级相关部门") lists some members and may be extended by the office.
    is_open: Mapped[bool] = mapped_column(default=False)

    members: Mapped[list[Unit]] = relationship(
        secondary=unit_group_members, back_populates="groups", order_by=Unit.sort_order
    )
