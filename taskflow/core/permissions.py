"""Named permission rules, checked by views before any work (DESIGN.md §5).

Conventions: an object of another unit answers 404 (it "does not exist" for this user), a
forbidden action on a visible object answers 403. Areas add their rules below their own
section comment; each rule is a plain function of (user, object) returning bool. A rule of
the user's role alone is marked @role_rule: templates read it as `perms.<name>` (core/templating.py)
and the cached navigation bar is keyed on their answers. Core depends on no area: a rule reads
the attributes of the objects it is given, and a rule that needs a lookup is handed one.
"""

from typing import Callable, Collection

from flask import abort

from taskflow.core.roles import UNIT_ROLES, Role

# Rules of the user's role (and whether the user belongs to a unit) alone, by name.
ROLE_RULES: dict[str, Callable[[object], bool]] = {}


def role_rule(rule: Callable[[object], bool]) -> Callable[[object], bool]:
    """Mark a rule that depends on the user's role (and unit membership) only."""
    ROLE_RULES[rule.__name__] = rule
    return rule


class UserRules:
    """Every rule for one user, as templates read them: `perms.can_review` is the role-only
    rule's answer; `perms.can_view_score_card(unit_id)` asks an object-level rule."""

    def __init__(self, user):
        # The real user, not Flask-Login's proxy: the navigation asks every rule on each page,
        # and each proxied attribute read would look the user up again.
        unwrap = getattr(user, "_get_current_object", None)
        self._user = unwrap() if unwrap is not None else user

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        rule = ROLE_RULES.get(name)
        if rule is not None:
            return rule(self._user)
        rule = globals().get(name) if name.startswith("can_") else None
        if callable(rule):
            return lambda *args: rule(self._user, *args)
        raise AttributeError(name)

    def __getitem__(self, name: str):
        # Jinja falls back to item lookup when an attribute is missing; a misspelt rule must
        # fail loudly rather than quietly hide a link.
        raise NameError(f"no permission rule named {name!r}")

    def answers(self) -> tuple[bool, ...]:
        """Every role-only rule's answer for this user, in a fixed order."""
        return tuple(rule(self._user) for rule in ROLE_RULES.values())


STAFF_ROLES = frozenset({Role.OFFICE, Role.SUPERVISOR, Role.ADMIN})
READ_ALL_ROLES = frozenset({Role.OFFICE, Role.SUPERVISOR, Role.LEADER, Role.ADMIN})


def require(allowed: bool) -> None:
    """403 unless allowed."""
    if not allowed:
        abort(403)


def require_visible(visible: bool) -> None:
    """404 unless the object is visible to the user (never reveal another unit's objects)."""
    if not visible:
        abort(404)


# ---------------------------------------------------------------- roles


@role_rule
def is_unit_user(user) -> bool:
    """A reporter or unit head: sees only its own unit."""
    return user.is_authenticated and user.role in UNIT_ROLES


@role_rule
def reads_everything(user) -> bool:
    """Office, supervisor, leader and admin read across units."""
    return user.is_authenticated and user.role in READ_ALL_ROLES


@role_rule
def is_office(user) -> bool:
    """The joint-meeting office (联席会议办公室)."""
    return user.is_authenticated and user.role == Role.OFFICE


@role_rule
def is_supervisor(user) -> bool:
    """The supervision team (督查组)."""
    return user.is_authenticated and user.role == Role.SUPERVISOR


@role_rule
def is_admin(user) -> bool:
    """The system administrator."""
    return user.is_authenticated and user.role == Role.ADMIN


# ---------------------------------------------------------------- units


def can_view_unit(user, unit_id: int | None) -> bool:
    """Own unit for unit users; any unit for the reading roles."""
    if reads_everything(user):
        return True
    return is_unit_user(user) and unit_id is not None and user.unit_id == unit_id


def acts_for_unit(user, unit_id: int | None) -> bool:
    """A reporter or unit head of exactly this unit."""
    return is_unit_user(user) and unit_id is not None and user.unit_id == unit_id


# ---------------------------------------------------------------- plans


@role_rule
def can_view_plan(user) -> bool:
    """Every signed-in user reads the plan, its tasks and its target table."""
    return user.is_authenticated


@role_rule
def can_edit_plan(user) -> bool:
    """The office keeps the plan, its assignments and milestones."""
    return is_office(user)


# ---------------------------------------------------------------- assignments and reporting


def can_view_assignment(user, assignment,
                        lead_unit_ids: Callable[[int], Collection[int]]) -> bool:
    """Own unit's assignments; the task's lead unit reads its responsible units' too
    (lead_unit_ids(task_id): the units leading a task, asked only when it decides)."""
    if can_view_unit(user, assignment.unit_id):
        return True
    return is_unit_user(user) and user.unit_id in lead_unit_ids(assignment.task_id)


def can_report(user, assignment) -> bool:
    """Report progress, upload evidence, ask for an extension: the assignment's own unit."""
    return acts_for_unit(user, assignment.unit_id)


def can_sign_off(user, assignment) -> bool:
    """The unit head approves the unit's submission before the office sees it."""
    return user.is_authenticated and user.role == Role.UNIT_HEAD and user.unit_id == assignment.unit_id


@role_rule
def can_review(user) -> bool:
    """Accept or return submissions, grant extensions: the office."""
    return is_office(user)


# ---------------------------------------------------------------- accounts and audit


@role_rule
def can_manage_users(user) -> bool:
    """Users, units and settings: the administrator."""
    return is_admin(user)


def can_see_full_mobile(user, person) -> bool:
    """A mobile number in full: its owner and the administrator; everyone else sees it masked."""
    return user.is_authenticated and (user.id == person.id or is_admin(user))


@role_rule
def can_view_audit(user) -> bool:
    """The audit trail: office, supervisor and admin."""
    return user.is_authenticated and user.role in STAFF_ROLES


# ---------------------------------------------------------------- assignments area: reporting details


@role_rule
def can_use_workspace(user) -> bool:
    """我的任务: reporters and unit heads."""
    return is_unit_user(user) and user.unit_id is not None


@role_rule
def can_use_sign_off_queue(user) -> bool:
    """The sign-off queue of the unit's reports: the unit head."""
    return can_use_workspace(user) and user.role == Role.UNIT_HEAD


@role_rule
def can_view_review_queue(user) -> bool:
    """The review queue and pending extension requests: the reading roles (only the office acts)."""
    return reads_everything(user)


def can_request_extension(user, assignment) -> bool:
    """Ask for a later due date: the assignment's own unit."""
    return can_report(user, assignment)


@role_rule
def can_close_milestone(user) -> bool:
    """Close a milestone off (销号) with a written reason: the office."""
    return is_office(user)


@role_rule
def can_decide_extension(user) -> bool:
    """Grant or refuse an extension: the office."""
    return can_review(user)


def can_write_consolidated_report(user, assignment) -> bool:
    """A lead unit's own staff write the consolidated report on its task."""
    return acts_for_unit(user, assignment.unit_id) and assignment.role == "lead"


def leads_task(user, task_id: int, lead_unit_ids: Callable[[int], Collection[int]]) -> bool:
    """The user is a reporter or head of a unit leading this key task."""
    return (is_unit_user(user) and user.unit_id is not None
            and user.unit_id in lead_unit_ids(task_id))


def can_view_lead_overview(user, task_id: int,
                           lead_unit_ids: Callable[[int], Collection[int]]) -> bool:
    """Who has reported on a key task, unit by unit (the lead unit's page): the task's lead
    unit, and the reading roles."""
    return reads_everything(user) or leads_task(user, task_id, lead_unit_ids)


def can_remind_as_lead(user, task_id: int,
                       lead_unit_ids: Callable[[int], Collection[int]]) -> bool:
    """Remind a responsible unit of a key task to report: that task's lead unit only."""
    return leads_task(user, task_id, lead_unit_ids)


# ---------------------------------------------------------------- enterprises and monthly dispatch


@role_rule
def can_view_register(user) -> bool:
    """Every signed-in user searches the register (unit users: their own unit's rows only)."""
    return user.is_authenticated


def can_view_enterprise(user, enterprise) -> bool:
    """An enterprise of the user's own unit, or any for the reading roles."""
    return can_view_unit(user, enterprise.unit_id)


def can_download_export(user, job) -> bool:
    """A background export (ExportJob) and its file: only the person who asked for it."""
    return user.is_authenticated and job.requested_by_id == user.id


@role_rule
def can_add_enterprises(user) -> bool:
    """Add or import enterprises at all: the office, and unit users for their own unit."""
    return is_office(user) or (is_unit_user(user) and user.unit_id is not None)


def can_edit_enterprise(user, unit_id: int | None) -> bool:
    """Add, edit or import enterprises of a unit: that unit's users, or the office."""
    return is_office(user) or acts_for_unit(user, unit_id)


def can_continue_import(user, batch) -> bool:
    """A staged import belongs to the user who uploaded it; to anyone else it does not exist."""
    return user.is_authenticated and batch.user_id == user.id


@role_rule
def can_decide_claims(user) -> bool:
    """Keep or transfer a claimed enterprise: the office."""
    return is_office(user)


@role_rule
def can_view_dispatch(user) -> bool:
    """The monthly dispatch's start page: unit users (their own unit's page) and the reading
    roles (the board)."""
    return is_unit_user(user) or can_view_dispatch_board(user)


@role_rule
def can_open_dispatch(user) -> bool:
    """Open and close months of the monthly dispatch: the office."""
    return is_office(user)


@role_rule
def can_view_dispatch_board(user) -> bool:
    """The board of all units' figures: the reading roles."""
    return reads_everything(user)


def can_confirm_dispatch(user, unit_id: int | None) -> bool:
    """Confirm a unit's month figures: that unit's reporter or head."""
    return acts_for_unit(user, unit_id)


# ---------------------------------------------------------------- notices, inbox, outbox, calendar


def can_view_notice(user, notice) -> bool:
    """An urge notice: the target unit's users, and the reading roles."""
    return can_view_unit(user, notice.unit_id)


def can_open_notification(user, notification) -> bool:
    """An inbox item: only the user it is addressed to."""
    return user.is_authenticated and notification.user_id == user.id


def can_answer_notice(user, notice) -> bool:
    """Acknowledge and answer a notice: a reporter or the head of the target unit."""
    return acts_for_unit(user, notice.unit_id)


@role_rule
def can_view_notices(user) -> bool:
    """The list of urge notices: a unit's users (their own) and the reading roles (all)."""
    return is_unit_user(user) or reads_everything(user)


@role_rule
def can_issue_notice(user) -> bool:
    """Issue 催办/督办 notices by hand: the office."""
    return is_office(user)


@role_rule
def can_view_overdue(user) -> bool:
    """The list of overdue items across units: the reading roles."""
    return reads_everything(user)


@role_rule
def can_manage_outbox(user) -> bool:
    """See failed deliveries and retry them: the administrator."""
    return is_admin(user)


@role_rule
def can_view_robots(user) -> bool:
    """The group-robot pages: the administrator and the office (every robot), a unit head (the
    unit's own)."""
    return is_admin(user) or is_office(user) or (
        user.is_authenticated and user.role == Role.UNIT_HEAD and user.unit_id is not None)


def can_manage_robot(user, unit_id: int | None) -> bool:
    """Add, change and test a robot owned by unit_id (None: the office's): the administrator and
    the office any robot, a unit head only its own unit's."""
    if is_admin(user) or is_office(user):
        return True
    return (user.is_authenticated and user.role == Role.UNIT_HEAD and unit_id is not None
            and user.unit_id == unit_id)


@role_rule
def can_manage_calendar(user) -> bool:
    """Override the working-day calendar and enter a year's holiday arrangement: the administrator."""
    return is_admin(user)


@role_rule
def can_view_calendar_years(user) -> bool:
    """See which years the working-day calendar knows (and the banner about unknown ones): the
    administrator and the office."""
    return is_admin(user) or is_office(user)


# ---------------------------------------------------------------- scores, reports and cockpit


@role_rule
def can_view_scores(user) -> bool:
    """Rankings: every signed-in user (unit users see published periods only)."""
    return user.is_authenticated


@role_rule
def can_view_draft_scores(user) -> bool:
    """Draft and locked periods: the reading roles."""
    return reads_everything(user)


def can_view_score_card(user, unit_id: int | None) -> bool:
    """A unit's score breakdown: its own unit's users, and the reading roles."""
    return can_view_unit(user, unit_id)


@role_rule
def can_score(user) -> bool:
    """Adjust scores, lock, publish and correct periods, edit rules, enter recognitions."""
    return is_supervisor(user)


@role_rule
def can_confirm_scores(user) -> bool:
    """Give the second confirmation of a lock or publish (when the rules ask for two people):
    a supervisor or an office user other than the one who asked."""
    return user.is_authenticated and user.role in {Role.SUPERVISOR, Role.OFFICE}


@role_rule
def can_recompute_scores(user) -> bool:
    """Recompute a draft period on demand: the supervision team and the office."""
    return user.is_authenticated and user.role in {Role.SUPERVISOR, Role.OFFICE}


@role_rule
def can_view_reports(user) -> bool:
    """The monthly innovation report, bulletins, the five-colour map: the reading roles."""
    return reads_everything(user)


@role_rule
def can_edit_bulletin(user) -> bool:
    """Draft, edit and publish the quarterly bulletin: the office."""
    return is_office(user)


@role_rule
def can_view_cockpit(user) -> bool:
    """The cockpit: leaders, the office, the supervision team (and the administrator)."""
    return reads_everything(user)
