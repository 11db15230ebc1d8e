"""The unit directory of a plan, read from seeds/units.toml: names, aliases, kinds, groups.

Pure: no database. The importer resolves every name a plan document uses through a Directory,
so a misspelt or unknown unit stops the import with its name instead of creating a new unit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from taskflow.units.models import PeerGroup, UnitKind

KINDS = tuple(UnitKind)
PEER_GROUPS = tuple(PeerGroup)
# The city plan's region labels and the peer group of the districts under each.
REGION_PEER_GROUPS = {
    "中心城区": PeerGroup.CENTRAL_URBAN,
    "主城新区": PeerGroup.NEW_URBAN,
    "渝东北三峡库区城镇群": PeerGroup.NORTHEAST,
    "渝东南武陵山区城镇群": PeerGroup.SOUTHEAST,
}


class DirectoryError(ValueError):
    """The directory file is malformed, or a plan document disagrees with it."""


class UnknownUnitError(LookupError):
    """A name that is neither a unit, an alias nor a group of the directory."""

    def __init__(self, name: str, where: str | None = None, hint: str | None = None):
        self.name = name
        self.where = where
        message = f"unknown unit “{name}”"
        if where:
            message += f" ({where})"
        if hint:
            message += f": {hint}"
        super().__init__(message)


@dataclass(frozen=True)
class DirectoryUnit:
    name: str
    kind: str
    peer_group: str
    parent: str | None
    aliases: tuple[str, ...]
    groups: tuple[str, ...]
    sort_order: int
    links_plan: str | None = None


@dataclass(frozen=True)
class DirectoryGroup:
    name: str
    members: tuple[str, ...]  # canonical names in sort order
    open: bool = False


class Directory:
    """One plan's units and groups, with alias-aware lookup."""

    def __init__(
        self, plan_code: str, title: str, units: list[DirectoryUnit], groups: list[DirectoryGroup]
    ):
        self.plan_code = plan_code
        self.title = title
        self.units = sorted(units, key=lambda unit: unit.sort_order)
        self.groups = {group.name: group for group in groups}
        self._by_name = {unit.name: unit for unit in self.units}
        self._canonical = {unit.name: unit.name for unit in self.units}
        for unit in self.units:
            for alias in unit.aliases:
                self._canonical[alias] = unit.name

    def __contains__(self, name: str) -> bool:
        return name.strip() in self._canonical or name.strip() in self.groups

    def resolve(self, name: str, where: str | None = None) -> str:
        """The canonical name of a unit given by its name or an alias."""
        key = name.strip()
        if key in self._canonical:
            return self._canonical[key]
        hint = "this is a unit group; expand it instead" if key in self.groups else None
        raise UnknownUnitError(key, where, hint)

    def unit(self, name: str) -> DirectoryUnit:
        """The directory entry of a unit given by its name or an alias."""
        return self._by_name[self.resolve(name)]

    def is_group(self, name: str) -> bool:
        """Whether a name is a collective phrase (各园城、街镇) rather than a unit."""
        return name.strip() in self.groups

    def expand(self, name: str, where: str | None = None) -> list[str]:
        """Canonical unit names a phrase stands for: a group's members, or the one unit named."""
        key = name.strip()
        if key in self.groups:
            return list(self.groups[key].members)
        return [self.resolve(key, where)]

    def check_plan(self, plan) -> None:
        """Check that every unit a parsed plan names is in this directory and agrees with it."""
        for section in plan.sections:
            for task in section.tasks:
                for name in [*task.lead_units, *task.responsible_units]:
                    self.expand(name, f"line {task.line}, task {task.number}")
        for table in plan.tables:
            for row in table.rows:
                label = row.number if row.number is not None else "★"
                where = f"line {row.line}, table row {label} of “{table.title}”"
                unit = self.unit(self.resolve(row.unit, where))
                if row.parent_unit is not None:
                    parent = self.resolve(row.parent_unit, where)
                    if unit.parent != parent:
                        raise DirectoryError(
                            f"{where}: the table puts {unit.name} under {parent}, "
                            f"the directory under {unit.parent or 'no unit'}"
                        )
        for name, region in getattr(plan, "regions", {}).items():
            unit = self.unit(self.resolve(name, f"region {region}"))
            if unit.peer_group != REGION_PEER_GROUPS.get(region):
                raise DirectoryError(
                    f"{unit.name} is under {region} in the plan but in peer group "
                    f"{unit.peer_group} in the directory"
                )


def load_directory(path: str | PathLike, plan_code: str) -> Directory:
    """Read one plan's directory from a units.toml file; raise DirectoryError when it is malformed."""
    with Path(path).open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise DirectoryError(f"{path}: {error}") from error
    if plan_code not in data:
        raise DirectoryError(f"{path} has no directory for plan {plan_code}")
    section = data[plan_code]
    raw_units = section.get("units", [])
    raw_groups = section.get("groups", [])

    names: dict[str, int] = {}
    taken: set[str] = set()
    for order, raw in enumerate(raw_units):
        name = _required(raw, "name", f"unit #{order + 1}")
        if name in taken:
            raise DirectoryError(f"unit name or alias “{name}” appears twice")
        taken.add(name)
        names[name] = order
        kind = _required(raw, "kind", name)
        if kind not in KINDS:
            raise DirectoryError(f"{name}: unknown kind “{kind}”")
        peer_group = _required(raw, "peer_group", name)
        if peer_group not in PEER_GROUPS:
            raise DirectoryError(f"{name}: unknown peer group “{peer_group}”")
        for alias in raw.get("aliases", []):
            if alias in taken:
                raise DirectoryError(f"unit name or alias “{alias}” appears twice")
            taken.add(alias)
    for raw in raw_units:
        parent = raw.get("parent")
        if parent is not None and parent not in names:
            raise DirectoryError(f"{raw['name']}: parent “{parent}” is not a unit of the directory")
        if parent == raw["name"]:
            raise DirectoryError(f"{raw['name']} is its own parent")

    by_group = {raw.get("name"): raw for raw in raw_groups}
    if len(by_group) != len(raw_groups):
        raise DirectoryError("a group name appears twice")
    for group_name in by_group:
        if not group_name:
            raise DirectoryError("a group without a name")
        if group_name in taken:
            raise DirectoryError(f"group “{group_name}” has the name of a unit or alias")

    def members_of(group_name: str, seen: tuple[str, ...]) -> set[str]:
        # Groups may include groups; resolve recursively and refuse cycles.
        if group_name in seen:
            raise DirectoryError(f"groups include each other: {' → '.join((*seen, group_name))}")
        raw = by_group[group_name]
        members: set[str] = set()
        for name in raw.get("members", []):
            if name not in names:
                raise DirectoryError(f"group “{group_name}”: “{name}” is not a unit of the directory")
            members.add(name)
        for kind in raw.get("member_kinds", []):
            if kind not in KINDS:
                raise DirectoryError(f"group “{group_name}”: unknown kind “{kind}”")
            members.update(unit["name"] for unit in raw_units if unit["kind"] == kind)
        for included in raw.get("includes", []):
            if included not in by_group:
                raise DirectoryError(f"group “{group_name}” includes unknown group “{included}”")
            members |= members_of(included, (*seen, group_name))
        return members

    groups = []
    membership: dict[str, list[str]] = {name: [] for name in names}
    for group_name, raw in by_group.items():
        members = sorted(members_of(group_name, ()), key=names.__getitem__)
        if not members:
            raise DirectoryError(f"group “{group_name}” has no members")
        for member in members:
            membership[member].append(group_name)
        groups.append(DirectoryGroup(group_name, tuple(members), bool(raw.get("open", False))))

    units = [
        DirectoryUnit(
            name=raw["name"],
            kind=raw["kind"],
            peer_group=raw["peer_group"],
            parent=raw.get("parent"),
            aliases=tuple(raw.get("aliases", [])),
            groups=tuple(membership[raw["name"]]),
            sort_order=order,
            links_plan=raw.get("links_plan"),
        )
        for order, raw in enumerate(raw_units)
    ]
    return Directory(plan_code, section.get("title", ""), units, groups)


def _required(raw: dict, key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DirectoryError(f"{what}: missing {key}")
    return value
