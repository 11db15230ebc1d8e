"""Plans and everything a plan document defines."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import UTCDateTime, enum_check
from taskflow.extensions import db


class PlanLevel(StrEnum):
    """Which government a plan document belongs to."""

    CITY = "city"
    DISTRICT = "district"


class Plan(db.Model):
    """A plan document: the district work plan, or the city action plan above it."""

    __tablename__ = "plans"
    __table_args__ = (enum_check("level", PlanLevel),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))  # "city" or "district"
    start_year: Mapped[int]
    end_year: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # The unit of the parent plan whose row this plan's totals answer to (綦江区 in the city plan).
    parent_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", use_alter=True, name="fk_plans_parent_unit_id_units")
    )
    source_name: Mapped[str] = mapped_column(String(200), default="")
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped["Plan | None"] = relationship(remote_side=[id])
    sections: Mapped[list["Section"]] = relationship(
        back_populates="plan", order_by="Section.number", cascade="all, delete-orphan"
    )
    goals: Mapped[list["PlanGoal"]] = relationship(
        back_populates="plan", order_by="PlanGoal.id", cascade="all, delete-orphan"
    )


class Section(db.Model):
    """A numbered part of the key tasks (（一）广泛培育发展科技型企业)."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))

    plan: Mapped[Plan] = relationship(back_populates="sections")
    tasks: Mapped[list["KeyTask"]] = relationship(
        back_populates="section", order_by="KeyTask.number", cascade="all, delete-orphan"
    )


class KeyTask(db.Model):
    """One of a plan's numbered key tasks, with its full text."""

    __tablename__ = "key_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The parenthetical naming the units, exactly as the document has it.
    units_text: Mapped[str] = mapped_column(Text, default="")
    # "…等区级相关部门": the document names some departments and leaves the list open.
    units_open: Mapped[bool] = mapped_column(default=False)

    section: Mapped[Section] = relationship(back_populates="tasks")


class IndicatorMeasure(StrEnum):
    """What an indicator's figure is: a count of enterprises, a percentage, or a ratio."""

    COUNT = "count"
    PERCENT = "percent"
    RATIO = "ratio"


class Indicator(db.Model):
    """A measured quantity: tech-based enterprises, high-tech enterprises, R&D ratio, …"""

    __tablename__ = "indicators"
    __table_args__ = (enum_check("measure", IndicatorMeasure),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    measure: Mapped[str] = mapped_column(String(20))  # "count" or "percent" or "ratio"
    sort_order: Mapped[int] = mapped_column(default=0)


class PlanGoal(db.Model):
    """A goal a plan document states, in its own words and with its own number.

    An indicator goal names an Indicator (高新技术企业达到300家以上); any other numeric goal has
    no indicator and says what it measures in ``metric`` (孵化载体面积 > 40 万平方米, 企业研发经费
    投入 ≥ 1000 亿元, a region's share of the city total = 55 %); a qualitative goal has no value
    (成功创建国家高新区). ``year`` is empty for a goal of every year (``every_year``: 每年上市企业
    超过10家) and for a target that names no year, which holds for the plan period
    (遴选100家高新技术骨干企业重点支持).
    """

    __tablename__ = "plan_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"), index=True)
    year: Mapped[int | None]
    every_year: Mapped[bool] = mapped_column(default=False)
    comparator: Mapped[str] = mapped_column(String(4))  # ">=", ">", "=" or "" (qualitative)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    # The unit as written: 家, %, 件, 个, 万平方米, 亿元 (enterprise counts are whole, “1.3万家”
    # is stored as 13000 家; other magnitudes stay as written).
    unit: Mapped[str] = mapped_column(String(20), default="")
    # What a goal without an indicator measures, in the document's words.
    metric: Mapped[str] = mapped_column(String(200), default="")
    # Where it applies when the text says so: 全区, 全市, 中心城区, …
    scope: Mapped[str] = mapped_column(String(100), default="")
    text: Mapped[str] = mapped_column(String(300))
    # The key task whose text states the goal; empty for the document's goals part.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("key_tasks.id"), index=True)

    plan: Mapped[Plan] = relationship(back_populates="goals")
    indicator: Mapped[Indicator | None] = relationship()
    task: Mapped["KeyTask | None"] = relationship()

    @property
    def is_qualitative(self) -> bool:
        return self.value is None

    @property
    def label(self) -> str:
        """What the goal is about, for a page: the indicator's name, or the metric."""
        return self.indicator.name if self.indicator is not None else self.metric


class TargetKind(StrEnum):
    """Which count a target is about (在库量 / 复审 / 新增 / 培育 / 招引)."""

    IN_LIBRARY = "in_library"
    RE_REVIEW = "re_review"
    NEW = "new"
    CULTIVATED = "cultivated"
    ATTRACTED = "attracted"


class Target(db.Model):
    """A target value for an indicator, a unit (or the whole plan when unit is empty), a year."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("plan_id", "unit_id", "indicator_id", "year", "kind"),
        enum_check("kind", TargetKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[int]
    # The row number (序号) in the document's table; empty for the 合计 row.
    source_row: Mapped[int | None]


class NotApplicableTarget(db.Model):
    """A target table cell written "-": the figure does not apply to the unit (not a zero).

    No Target row exists for such a cell, so every sum and every progress measure sees no target;
    this marker only records that the document says so, for the target table and for measures
    that want to say 不适用 rather than "no target".
    """

    __tablename__ = "not_applicable_targets"
    __table_args__ = (
        UniqueConstraint("plan_id", "unit_id", "indicator_id", "year", "kind"),
        enum_check("kind", TargetKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    source_row: Mapped[int | None]
