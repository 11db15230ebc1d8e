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


def test_plan_page_shows_every_goal_with_its_number_and_wording(client, imported_plans, make_user, login):
    login(make_user("leader"))
    page = client.get(f"/plans/{imported_plans.code}").get_data(as_text=True)
    goals = page[page.index('id="goals"'):page.index("</table>", page.index('id="goals"'))]
    assert len(re.findall(r"data-goal=", goals)) == 11
    # The qualitative goal, labelled as such, with the document's words.
    row = re.search(r"<tr data-goal=\"\d+\">(?:(?!</tr>).)*成功创建国家高新区(?:(?!</tr>).)*</tr>", goals, re.S)
    assert row and "定性目标" in row.group() and "2027" in row.group()
    # The floor-space goal of task 9: number, unit, and a link to the task.
    row = re.search(r"<tr data-goal=\"\d+\">(?:(?!</tr>).)*孵化载体面积(?:(?!</tr>).)*</tr>", goals, re.S)
    assert row, goals
    assert "&gt; 40 万平方米" in row.group()
    assert f'href="/plans/{imported_plans.code}/tasks/9"' in row.group()
    assert "力争2027年全区孵化载体面积超过40万平方米" in row.group()
    assert "≥ 300 家" in goals  # 高新技术企业达到300家以上


def test_city_plan_page_shows_the_regional_shares_and_task_targets(client, imported_plans, make_user, login):
    login(make_user("office"))
    page = client.get(f"/plans/{imported_plans.parent.code}").get_data(as_text=True)
    assert "（征求意见稿）" in page
    goals = page[page.index('id="goals"'):page.index("</table>", page.index('id="goals"'))]
    for scope, share in (("中心城区", 55), ("主城新区", 35), ("渝东北三峡库区城镇群和渝东南武陵山区城镇群", 10)):
        assert re.search(rf"{scope}</span> 高新技术企业、科技型企业数量占全市总量</td>\s*"
                         rf"<td class=\"tf-num\">= {share} %</td>", goals), scope
    assert "≥ 1000 个" in goals and "≥ 1000 亿元" in goals
    row = re.search(r"<tr data-goal=\"\d+\">\s*<td>(\S+)</td>(?:(?!</tr>).)*每年上市企业超过10家", goals, re.S)
    assert row and row.group(1) == "每年"
    row = re.search(r"<tr data-goal=\"\d+\">\s*<td>(\S+)</td>(?:(?!</tr>).)*遴选100家高新技术骨干企业", goals, re.S)
    assert row and row.group(1) == "规划期内"


def test_task_page_lists_the_goals_its_text_states(client, imported_plans, make_user, login):
    login(make_user("office"))
    page = client.get(f"/plans/{imported_plans.code}/tasks/9").get_data(as_text=True)
    assert 'id="task-goals"' in page and "全区孵化载体面积 &gt; 40 万平方米" in page
    assert 'id="task-goals"' not in client.get(f"/plans/{imported_plans.code}/tasks/1").get_data(as_text=True)


def test_targets_page_shows_dash_cells_as_not_applicable_not_zero(client, imported_plans, make_user, login):
    login(make_user("office"))
    page = client.get(f"/plans/{imported_plans.code}/targets").get_data(as_text=True)
    table = page.split('id="target-table"')[1]
    row = re.search(r"<tr>\s*<td><span[^>]*>高新区管委会 ›</span> 化工产业链专班</td>(.*?)</tr>", table, re.S)
    assert row, table[:2000]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    # 化工产业链专班: - 7 25 - 2 - 2 1 1 8
    assert cells == ["—（不适用）", "7", "25", "—（不适用）", "2", "—（不适用）", "2", "1", "1", "8"]
    assert ">0<" not in table
    assert "text-danger" not in table  # the 合计 checks still hold
