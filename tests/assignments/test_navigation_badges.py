"""The review and sign-off badges in the (cached) navigation bar follow the queues at once."""

import re

from sqlalchemy import select

from taskflow.assignments.models import StatusUpdate
from taskflow.extensions import db


def _badge(client, kind: str) -> int:
    """The number on the navigation badge `kind` ("review", "sign-off"), 0 when none shows."""
    html = client.get("/account").get_data(as_text=True)
    found = re.search(rf'data-count="{kind}">(\d+)<', html)
    return int(found.group(1)) if found else 0


def test_review_badge_counts_each_new_submission(world, as_user, submit):
    client = as_user(world.users.office)
    assert _badge(client, "review") == 0
    as_user(world.users.reporter_a)
    assert submit(world.ms_a.id).status_code == 302
    client = as_user(world.users.office)
    assert _badge(client, "review") == 1
    as_user(world.users.reporter_b)
    assert submit(world.ms_b.id).status_code == 302
    client = as_user(world.users.office)
    assert _badge(client, "review") == 2
    update = db.session.scalar(select(StatusUpdate).order_by(StatusUpdate.id).limit(1))
    assert client.post(f"/updates/{update.id}/review",
                       data={"decision": "accept", "comment": ""}).status_code == 302
    assert _badge(client, "review") == 1


def test_sign_off_badge_is_the_unit_heads_own(world, as_user, submit):
    world.a.requires_sign_off = True
    db.session.commit()
    as_user(world.users.reporter_a)
    assert submit(world.ms_a.id).status_code == 302
    assert _badge(as_user(world.users.head_a), "sign-off") == 1
    assert _badge(as_user(world.users.head_b), "sign-off") == 0
    client = as_user(world.users.head_a)
    update = db.session.scalar(select(StatusUpdate))
    assert client.post(f"/updates/{update.id}/sign-off",
                       data={"decision": "approve"}).status_code == 302
    assert _badge(client, "sign-off") == 0
