"""A year of simulated time through `flask reminders scan --now …`: reminders, 催办 and 督办 on
the right working days around the 2024 Spring Festival and National Day holidays.

2024 calendar facts used below (State Council notice):
- Spring Festival: 02-10 … 02-17 off; Sunday 02-04 and Sunday 02-18 are make-up working days.
- Mid-Autumn: 09-15 … 09-17 off; Saturday 09-14 is a make-up working day.
- National Day: 10-01 … 10-07 off; Sunday 09-29 and Saturday 10-12 are make-up working days.
Settings: URGE_AFTER_WORKING_DAYS = 3, SUPERVISE_AFTER_WORKING_DAYS = 5 (so 督办 at 8).
"""

from datetime import date

from sqlalchemy import select

from taskflow.extensions import db
from taskflow.notices.models import Notification, UrgeNotice

D = date.fromisoformat

# Each milestone's expected messages, worked out by hand from the calendar above.
EXPECTED = {
    # Due Monday 02-19, the first day after the holiday. 7 working days before: 02-05,06,07,08,
    # 09,18,19 → Sunday 02-04 (make-up day). 3 left: 02-09,18,19 → 02-08. 1 left: Sunday 02-18.
    # Overdue 02-20 (1), 催办 at 3 → 02-22, 督办 at 8 → 02-29.
    "m_feb19": [("due_7", "2024-02-04"), ("due_3", "2024-02-08"), ("due_1", "2024-02-18"),
                ("overdue", "2024-02-20"), ("urge", "2024-02-22"),
                ("supervise", "2024-02-29")],
    # Due Thursday 02-08. Overdue Friday 02-09 (1); the holiday does not count; Sunday 02-18 is 2,
    # Monday 02-19 is 3 → 催办; 02-20..23 are 4..7, Monday 02-26 is 8 → 督办.
    "m_feb08": [("due_7", "2024-01-31"), ("due_3", "2024-02-05"), ("due_1", "2024-02-07"),
                ("overdue", "2024-02-09"), ("urge", "2024-02-19"),
                ("supervise", "2024-02-26")],
    # Extension granted (original 02-06, now Friday 02-09) and missed too: the ladder counts from
    # the extended date. Overdue on make-up Sunday 02-18 (1); 02-19 (2), 02-20 (3) → 催办;
    # 02-21..23 are 4..6, 02-26 is 7, 02-27 is 8 → 督办.
    "m_extended": [("due_7", "2024-02-01"), ("due_3", "2024-02-06"), ("due_1", "2024-02-08"),
                   ("overdue", "2024-02-18"), ("urge", "2024-02-20"),
                   ("supervise", "2024-02-27")],
    # Due Tuesday 10-08, the first day after National Day. 7 left on 09-23 (24,25,26,27,29,30,
    # 10-08); 3 left on 09-27 (29,30,10-08); 1 left on 09-30. Overdue 10-09; 催办 10-11;
    # 督办: 10-12 (make-up Saturday) is 4, 14, 15, 16 are 5..7, 10-17 is 8.
    "m_oct08": [("due_7", "2024-09-23"), ("due_3", "2024-09-27"), ("due_1", "2024-09-30"),
                ("overdue", "2024-10-09"), ("urge", "2024-10-11"),
                ("supervise", "2024-10-17")],
    # Due Monday 09-30. 7 left on Friday 09-20 (23..27, 29, 30); 3 left on 09-26; 1 left on make-up
    # Sunday 09-29. Overdue 10-08 (1), 10-09 (2), 10-10 (3) → 催办; 10-11 (4), make-up Saturday
    # 10-12 (5), 14 (6), 15 (7), 16 (8) → 督办.
    "m_sep30": [("due_7", "2024-09-20"), ("due_3", "2024-09-26"), ("due_1", "2024-09-29"),
                ("overdue", "2024-10-08"), ("urge", "2024-10-10"),
                ("supervise", "2024-10-16")],
    # Due on make-up Saturday 10-12. 7 left on 09-27 (29, 30, 8, 9, 10, 11, 12); 3 left on 10-09;
    # 1 left on 10-11. Overdue Monday 10-14; 催办 10-16; 督办 10-23 (17, 18, 21, 22, 23 = 4..8).
    "m_oct12": [("due_7", "2024-09-27"), ("due_3", "2024-10-09"), ("due_1", "2024-10-11"),
                ("overdue", "2024-10-14"), ("urge", "2024-10-16"),
                ("supervise", "2024-10-23")],
    # Submitted before its due date: nothing, ever.
    "m_done": [],
}


def test_a_year_of_scans_sends_each_step_on_the_right_working_day(app, runner, world,
                                                                    milestone_at, sim):
    ms = {
        "m_feb19": milestone_at(D("2024-02-19"), "春节后首日节点"),
        "m_feb08": milestone_at(D("2024-02-08"), "春节前节点"),
        "m_extended": milestone_at(D("2024-02-09"), "已延期节点", original=D("2024-02-06")),
        "m_oct08": milestone_at(D("2024-10-08"), "国庆后首日节点"),
        "m_sep30": milestone_at(D("2024-09-30"), "国庆前节点"),
        "m_oct12": milestone_at(D("2024-10-12"), "调休周六节点"),
        "m_done": milestone_at(D("2024-10-08"), "已提交节点", state="submitted"),
    }
    holiday_outputs = []
    for day in sim.days(D("2024-01-01"), D("2024-12-31")):
        result = runner.invoke(args=["reminders", "scan", "--now", f"{day.isoformat()}T08:30"])
        assert result.exit_code == 0, result.output
        if day in (D("2024-02-12"), D("2024-10-03"), D("2024-10-05")):
            holiday_outputs.append(result.output)

    for key, milestone in ms.items():
        assert sim.sent_ladder(milestone.id) == EXPECTED[key], key
    # Holidays and weekends send nothing, and the command says so.
    assert all("day_off=1" in out for out in holiday_outputs)

    # Notices are numbered per year and series, in the order they were issued.
    notices = db.session.scalars(select(UrgeNotice).order_by(UrgeNotice.id)).all()
    assert [(n.number, n.level, [m.id for m in n.items]) for n in notices] == [
        ("綦科催〔2024〕1号", "yellow", [ms["m_feb08"].id]),
        ("綦科催〔2024〕2号", "yellow", [ms["m_extended"].id]),
        ("綦科催〔2024〕3号", "yellow", [ms["m_feb19"].id]),
        ("綦科督〔2024〕1号", "red", [ms["m_feb08"].id]),
        ("綦科督〔2024〕2号", "red", [ms["m_extended"].id]),
        ("綦科督〔2024〕3号", "red", [ms["m_feb19"].id]),
        ("綦科催〔2024〕4号", "yellow", [ms["m_sep30"].id]),
        ("綦科催〔2024〕5号", "yellow", [ms["m_oct08"].id]),
        ("綦科督〔2024〕4号", "red", [ms["m_sep30"].id]),
        ("綦科催〔2024〕6号", "yellow", [ms["m_oct12"].id]),
        ("綦科督〔2024〕5号", "red", [ms["m_oct08"].id]),
        ("綦科督〔2024〕6号", "red", [ms["m_oct12"].id]),
    ]
    assert all(n.source == "scan" and n.unit_id == world.town.id for n in notices)

    # Who heard what: every reminder reached the town's reporter and head; the lead unit heard
    # of each overdue item; 督办 went to the town head and the office, not to the reporter.
    def kinds_for(user):
        return sorted(db.session.scalars(select(Notification.kind)
                                         .where(Notification.user_id == user.id)))

    u = world.users
    reporter_kinds = kinds_for(u.reporter)
    assert reporter_kinds.count("due_7") == 6 and reporter_kinds.count("overdue") == 6
    assert reporter_kinds.count("notice_yellow") == 6 and "notice_red" not in reporter_kinds
    assert kinds_for(u.head).count("notice_red") == 6
    assert kinds_for(u.office) == ["notice_red"] * 6
    assert kinds_for(u.lead_reporter) == ["overdue_lead"] * 6
    assert kinds_for(u.other_reporter) == []


def test_scan_command_reads_now_in_shanghai_time(app, runner, world, milestone_at, sim):
    """2024-10-07T23:30 UTC is already 10-08 07:30 in Shanghai: the day after the holiday."""
    milestone = milestone_at(D("2024-09-30"))
    result = runner.invoke(args=["reminders", "scan", "--now", "2024-10-07T23:30+00:00"])
    assert result.exit_code == 0, result.output
    assert "2024-10-08 07:30" in result.output
    assert sim.sent_ladder(milestone.id) == [("overdue", "2024-10-08")]
    bad = runner.invoke(args=["reminders", "scan", "--now", "yesterday"])
    assert bad.exit_code != 0 and "not an ISO time" in bad.output
