"""The workspace, the assignment page and the review queue run the same number of queries for
2 items as for 20."""

from datetime import date, timedelta

from taskflow.assignments import operations as ops
from taskflow.assignments.models import Assignment, Evidence, Milestone
from taskflow.core import clock
from taskflow.extensions import db


def add_evidence(update, user, n):
    db.session.add(Evidence(status_update_id=update.id, original_name=f"材料{n}.pdf", size=100,
                            detected_type="pdf", content_type="application/pdf", sha256="0" * 64,
                            storage_key=f"00/00/{n:032x}", uploaded_by_id=user.id,
                            uploaded_at=clock.utcnow()))


def count_page(client, count_queries, url):
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    return counter.count


def test_workspace_queries_do_not_grow(world, client, login, count_queries, make_task,
                                       request_ctx):
    reporter, office = world.users.reporter_a, world.users.office

    def add_tasks(n):
        for _ in range(n):
            task = make_task()
            assignment = Assignment(task_id=task.id, unit_id=world.town_a.id, role="responsible")
            db.session.add(assignment)
            db.session.flush()
            first = Milestone(assignment_id=assignment.id, title="一季度",
                              due_date=date(2024, 3, 31), original_due_date=date(2024, 3, 31))
            second = Milestone(assignment_id=assignment.id, title="二季度",
                               due_date=date(2024, 6, 30), original_due_date=date(2024, 6, 30))
            db.session.add_all([first, second])
            db.session.flush()
            update = ops.submit_update(first, reporter, progress=10, narrative="x", problems="",
                                       next_steps="")
            ops.review_update(update, office, accept=False, reason_code="incomplete",
                              comment="补充")
        db.session.commit()

    login(reporter)
    add_tasks(1)  # with the world's own assignment: 2
    small = count_page(client, count_queries, "/my")
    add_tasks(18)
    large = count_page(client, count_queries, "/my")
    assert small == large
    page = client.get("/my").get_data(as_text=True)
    assert page.count("data-assignment=") == 20 and page.count("data-returned=") == 19


def test_assignment_page_queries_do_not_grow(world, client, login, count_queries, make_unit,
                                             request_ctx):
    reporter, office = world.users.reporter_a, world.users.office
    counter = iter(range(1, 1000))

    def add_milestones(n):
        for i in range(n):
            due = date(2024, 3, 31) + timedelta(days=next(counter))
            milestone = Milestone(assignment_id=world.lead.id, title=f"节点{due}", due_date=due,
                                  original_due_date=due)
            db.session.add(milestone)
            db.session.flush()
            update = ops.submit_update(milestone, world.users.reporter_lead, progress=10,
                                       narrative="x", problems="", next_steps="")
            add_evidence(update, world.users.reporter_lead, next(counter))
            ops.request_extension(milestone, world.users.reporter_lead,
                                  requested_due_date=due + timedelta(days=30), reason="r")
            ops.review_update(update, office, accept=True)
            # and a responsible unit's update the lead unit reads
            unit = make_unit()
            team = Assignment(task_id=world.task.id, unit_id=unit.id, role="responsible")
            db.session.add(team)
            db.session.flush()
            team_milestone = Milestone(assignment_id=team.id, title="一季度", due_date=due,
                                       original_due_date=due)
            db.session.add(team_milestone)
            db.session.flush()
            team_update = ops.submit_update(team_milestone, reporter, progress=5, narrative="y",
                                            problems="", next_steps="")
            add_evidence(team_update, reporter, next(counter))
        db.session.commit()

    login(world.users.reporter_lead)
    add_milestones(1)
    small = count_page(client, count_queries, f"/assignments/{world.lead.id}")
    add_milestones(18)
    large = count_page(client, count_queries, f"/assignments/{world.lead.id}")
    assert small == large
    page = client.get(f"/assignments/{world.lead.id}").get_data(as_text=True)
    assert page.count("data-milestone=") == 20 and page.count("data-team-update=") == 19


def test_review_queue_and_milestone_page_queries_do_not_grow(world, client, login, count_queries,
                                                             make_task, request_ctx):
    reporter = world.users.reporter_a

    def add_updates(n):
        for _ in range(n):
            assignment = Assignment(task_id=make_task().id, unit_id=world.town_a.id,
                                    role="responsible")
            db.session.add(assignment)
            db.session.flush()
            milestone = Milestone(assignment_id=assignment.id, title="一季度",
                                  due_date=date(2024, 3, 31), original_due_date=date(2024, 3, 31))
            db.session.add(milestone)
            db.session.flush()
            update = ops.submit_update(milestone, reporter, progress=10, narrative="x",
                                       problems="", next_steps="")
            add_evidence(update, reporter, update.id)
        db.session.commit()

    def add_history(n):
        # returned reports on the world's milestone, each with a file
        for i in range(n):
            update = ops.submit_update(world.ms_a, reporter, progress=10, narrative="x",
                                       problems="", next_steps="")
            add_evidence(update, reporter, 5000 + update.id)
            ops.review_update(update, world.users.office, accept=False,
                              reason_code="incomplete", comment="补")
        db.session.commit()

    login(world.users.office)
    add_updates(2)
    add_history(2)
    small_queue = count_page(client, count_queries, "/review")
    small_milestone = count_page(client, count_queries, f"/milestones/{world.ms_a.id}")
    add_updates(18)
    add_history(18)
    assert count_page(client, count_queries, "/review") == small_queue
    assert count_page(client, count_queries, f"/milestones/{world.ms_a.id}") == small_milestone
    page = client.get("/review").get_data(as_text=True)
    assert page.count("data-update=") == 20
