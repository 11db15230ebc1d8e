"""The demo (`flask demo setup`, run by `make run`) publishes last quarter's bulletin with its 文号,
so the office can download it from the bulletins page; running it again changes nothing."""

import io
from datetime import date, datetime, timezone

from docx import Document
from sqlalchemy import select

from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import queries
from taskflow.scores.demo import setup_demo
from taskflow.scores.models import Bulletin

DEMO_NOW = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def test_the_demo_publishes_the_last_quarters_bulletin(client, login, plan, make_unit,
                                                       make_assignment, make_milestone,
                                                       make_user):
    for name, group in (("古南街道", "street_town"), ("文龙街道", "street_town"),
                        ("区科技局", "department")):
        unit = make_unit(name=name, peer_group=group,
                         kind="town" if group == "street_town" else "department")
        assignment = make_assignment(unit=unit)
        make_milestone(assignment, due=date(2026, 5, 20), title="二季度进展")
        make_milestone(assignment, due=date(2026, 8, 20), title="三季度进展")
    lines = []
    with clock.frozen_at(DEMO_NOW):
        setup_demo(plan, lines.append)
        db.session.commit()
        setup_demo(plan, lines.append)  # again: nothing new
        db.session.commit()
    assert queries.latest_period(plan.id, "2026Q2").state == "published"
    assert queries.latest_period(plan.id, "2026Q3").state == "published"
    bulletins = db.session.scalars(select(Bulletin)).all()
    assert [(b.state, b.number) for b in bulletins] == [("published", "綦双倍增办〔2026〕1号")]
    assert "綦双倍增办〔2026〕1号" in lines[0] and lines[0] == lines[1]

    login(make_user("office", username="demo-office"))
    response = client.get(f"/scores/bulletins/{bulletins[0].id}/bulletin.docx")
    document = Document(io.BytesIO(response.data))
    texts = [p.text for p in document.paragraphs]
    assert "綦双倍增办〔2026〕1号" in texts and "二〇二六年十二月二日" in texts
    assert "2026年第三季度“双倍增”行动工作通报" in texts
    assert not any("征求意见稿" in t for t in texts)
