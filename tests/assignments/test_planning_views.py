"""The office's planning tools through the pages: units, milestones in bulk, one milestone."""

from sqlalchemy import func, select

from taskflow.assignments import operations as ops
from taskflow.assignments.models import Assignment, Milestone
from taskflow.extensions import db


def text(response):
    return response.get_data(as_text=True)


def test_add_unit_to_an_open_task(world, as_user, client, make_unit):
    world.task.units_open = True
    db.session.commit()
    finance = make_unit(name="区财政局", kind="department", peer_group="department")
    as_user(world.users.office)
    page = text(client.get(f"/planning/tasks/{world.task.id}"))
    assert "等区级相关部门" in page and "区财政局" in page
    response = client.post(f"/planning/tasks/{world.task.id}/units",
                           data={"unit_id": finance.id, "role": "responsible"})
    assert response.status_code == 302
    added = db.session.scalar(select(Assignment).where(Assignment.unit_id == finance.id))
    assert added.role == "responsible" and added.added_by_office


def test_removing_a_unit_that_reported_is_refused_with_a_message(world, as_user, client,
                                                                 request_ctx):
    ops.submit_update(world.ms_a, world.users.reporter_a, progress=10, narrative="x",
                      problems="", next_steps="")
    db.session.commit()
    as_user(world.users.office)
    response = client.post(f"/planning/assignments/{world.a.id}/remove", follow_redirects=True)
    page = text(response)
    assert "不能移除" in page and "古南街道" in page
    assert db.session.get(Assignment, world.a.id) is not None
    # a unit without reports can be removed
    b_id = world.b.id
    response = client.post(f"/planning/assignments/{b_id}/remove", follow_redirects=True)
    assert "已移除 文龙街道" in text(response)
    assert db.session.scalar(select(func.count(Assignment.id)).where(Assignment.id == b_id)) == 0


def test_generate_milestones_twice_creates_them_once(world, as_user, client):
    as_user(world.users.office)
    data = {"start_year": "2023", "end_year": "2027", "frequency": "quarterly", "weight": "1",
            "required_evidence": "季度工作总结及佐证材料"}
    response = client.post(f"/planning/tasks/{world.task.id}/milestones", data=data,
                           follow_redirects=True)
    assert "新建里程碑 57 个，已存在 3 个" in text(response)
    response = client.post(f"/planning/tasks/{world.task.id}/milestones", data=data,
                           follow_redirects=True)
    assert "新建里程碑 0 个，已存在 60 个" in text(response)
    count = db.session.scalar(select(func.count(Milestone.id)).join(Assignment)
                              .where(Assignment.task_id == world.task.id))
    assert count == 60


def test_generate_with_bad_years_keeps_the_form(world, as_user, client):
    as_user(world.users.office)
    response = client.post(f"/planning/tasks/{world.task.id}/milestones",
                           data={"start_year": "2027", "end_year": "2023",
                                 "frequency": "quarterly", "weight": "1",
                                 "required_evidence": "自定义说明"})
    assert response.status_code == 409
    page = text(response)
    assert "起始年份不能晚于截止年份" in page and "自定义说明" in page


def test_sign_off_rule_per_assignment_and_per_task(world, as_user, client):
    as_user(world.users.office)
    client.post(f"/planning/assignments/{world.a.id}/sign-off", data={"requires_sign_off": "y"})
    assert db.session.get(Assignment, world.a.id).requires_sign_off
    client.post(f"/planning/tasks/{world.task.id}/sign-off", data={"requires_sign_off": "y"})
    assert all(a.requires_sign_off for a in db.session.scalars(
        select(Assignment).where(Assignment.task_id == world.task.id)))
    client.post(f"/planning/tasks/{world.task.id}/sign-off", data={})
    assert not any(a.requires_sign_off for a in db.session.scalars(
        select(Assignment).where(Assignment.task_id == world.task.id)))


def test_stale_milestone_edit_shows_who_changed_it_and_keeps_the_input(world, as_user, client):
    ms = world.ms_a
    as_user(world.users.office)
    form_page = text(client.get(f"/planning/milestones/{ms.id}/edit"))
    assert f'name="version_id" type="hidden" value="{ms.version_id}"' in form_page
    loaded_version = ms.version_id
    # Someone else (办公室李四) saves first.
    as_user(world.users.office2)
    response = client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(loaded_version), "title": "李四的标题", "due_date": "2024-04-15",
        "weight": "2", "required_evidence": "李四的要求"})
    assert response.status_code == 302
    # The first user's stale form.
    as_user(world.users.office)
    response = client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(loaded_version), "title": "张三的标题", "due_date": "2024-04-20",
        "weight": "3", "required_evidence": "张三的要求"})
    assert response.status_code == 409
    page = text(response)
    assert "此里程碑已被 办公室李四 于" in page and "请刷新后重试" in page
    assert 'data-current="title">李四的标题' in page  # the other person's values
    assert 'value="张三的标题"' in page and "张三的要求" in page  # the user's input kept
    assert db.session.get(Milestone, ms.id).title == "李四的标题"
    # Saving again, now knowingly over the newer version, applies the user's values.
    new_version = db.session.get(Milestone, ms.id).version_id
    assert f'name="version_id" type="hidden" value="{new_version}"' in page
    response = client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(new_version), "title": "张三的标题", "due_date": "2024-04-20",
        "weight": "3", "required_evidence": "张三的要求"})
    assert response.status_code == 302
    assert db.session.get(Milestone, ms.id).title == "张三的标题"


def test_milestone_edit_after_extension_keeps_original_due_date(world, as_user, client,
                                                                request_ctx):
    from datetime import date

    request = ops.request_extension(world.ms_a, world.users.reporter_a,
                                    requested_due_date=date(2024, 4, 30), reason="原因")
    ops.decide_extension(request, world.users.office, grant=True)
    db.session.commit()
    ms = db.session.get(Milestone, world.ms_a.id)
    as_user(world.users.office)
    page = text(client.get(f"/planning/milestones/{ms.id}/edit"))
    assert "原定截止日期 2024-03-31 保留在案" in page
    client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(ms.version_id), "title": ms.title, "due_date": "2024-05-15",
        "weight": "1", "required_evidence": ""})
    ms = db.session.get(Milestone, ms.id)
    assert ms.due_date == date(2024, 5, 15) and ms.original_due_date == date(2024, 3, 31)
