"""The planning page offers to take a unit off a task exactly when the operation allows it: one
rule (queries.reported_counts) for both, whatever the unit filed."""

import re
from datetime import date

from taskflow.assignments import operations as ops
from taskflow.assignments.models import Assignment
from taskflow.extensions import db


def _remove_offered(page: str, assignment_id: int) -> bool:
    block = page.split(f'data-assignment="{assignment_id}"', 1)[1]
    form = block.split(f"/planning/assignments/{assignment_id}/remove", 1)[1].split("</form>", 1)[0]
    button = re.search(r"<button[^>]*>", form).group(0)
    return "disabled" not in button


def test_the_page_offers_removal_exactly_when_the_operation_allows_it(
        world, as_user, client, make_unit, make_assignment, request_ctx):
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=10, narrative="x",
                               problems="", next_steps="")
    # Town B only asked for more time; the lead unit only wrote a consolidated report.
    ops.request_extension(world.ms_b, world.users.reporter_b,
                          requested_due_date=date(2024, 4, 30), reason="疫情影响")
    ops.write_consolidated_report(world.lead, world.users.reporter_lead, title="一季度汇总",
                                  body="各责任单位进展良好", cited_update_ids=[update.id])
    silent = make_assignment(task=world.task, unit=make_unit(name="三角镇"))
    db.session.commit()
    as_user(world.users.office)
    page = client.get(f"/planning/tasks/{world.task.id}").get_data(as_text=True)
    ids = [world.lead.id, world.a.id, world.b.id, silent.id]
    offered = {i: _remove_offered(page, i) for i in ids}
    assert offered == {world.lead.id: False, world.a.id: False, world.b.id: False,
                       silent.id: True}
    for assignment_id in ids:
        client.post(f"/planning/assignments/{assignment_id}/remove")
        removed = db.session.get(Assignment, assignment_id) is None
        assert removed == offered[assignment_id], assignment_id
