"""Plan pages: the task tree with units, the target table, the city comparison."""

import re

from taskflow.extensions import db
from taskflow.plans.models import KeyTask


def test_plan_page_lists_13_tasks_with_units_in_chinese(client, imported_plans, make_user, login):
    login(make_user("leader"))
    page = client.get(f"/plans/{imported_plans.code}").get_data(as_text=True)
    assert len(re.findall(r'data-task="\d+"', page)) == 13
    assert "引进创立科技型企业" in page and "促进高端人才向科技企业集聚" in page
    assert "牵头 · 区招商投资局" in page
    assert "开放名单" in page  # task 4 and 13 lists are open
    assert "区委人才办" in page


def test_task_page_shows_full_text_and_units(client, imported_plans, make_user, login):
    login(make_user("office"))
    page = client.get(f"/plans/{imported_plans.code}/tasks/8").get_data(as_text=True)
    assert "国家网络安全产业园" in page
    assert "新型建筑智能建造产业园指挥部办公室" in page
    assert client.get(f"/plans/{imported_plans.code}/tasks/99").status_code == 404
    assert client.get("/plans/no-such-plan").status_code == 404


def test_targets_page_shows_totals_and_the_city_disagreement(client, imported_plans, make_user, login):
    login(make_user("office"))
    page = client.get(f"/plans/{imported_plans.code}/targets").get_data(as_text=True)
    comparison = page[page.index('id="city-comparison"'):page.index("</table>", page.index('id="city-comparison"'))]
    row_2023 = re.search(r'<tr class="tf-diff">\s*<td>科技型企业</td><td>2023</td>\s*'
                         r'<td class="tf-num">2426</td>\s*<td class="tf-num">2260</td>', comparison)
    assert row_2023, comparison
    assert "+166" in comparison
    assert "古南街道" in page and "1976" in page
    assert "text-danger" not in page.split('id="target-table"')[1]


def test_plan_pages_need_sign_in(client, imported_plans):
    assert client.get(f"/plans/{imported_plans.code}").status_code == 302


def test_plan_page_query_count_does_not_grow_with_tasks(client, imported_plans, make_user, login,
                                                        count_queries):
    login(make_user("office"))
    url = f"/plans/{imported_plans.code}"
    client.get(url)
    with count_queries() as small:
        client.get(url)
    section_id = db.session.scalar(db.select(KeyTask.section_id).limit(1))
    for n in range(30):
        db.session.add(KeyTask(plan_id=imported_plans.id, section_id=section_id, number=100 + n,
                               title=f"附加任务{n}", body="正文"))
    db.session.commit()
    with count_queries() as large:
        client.get(url)
    assert large.count == small.count
