"""Pages run the same number of queries for small and larger data."""

from datetime import date

from taskflow.enterprises import operations
from taskflow.enterprises.models import Enterprise
from taskflow.extensions import db
from taskflow.units.models import Unit


def _add(unit_ids, count, codes):
    rows = []
    for i in range(count):
        rows.append(Enterprise(name=f"重庆企业{i}有限公司", credit_code=codes(),
                               unit_id=unit_ids[i % len(unit_ids)], source="stock",
                               tech_in_library_on=date(2022, 1, 1)))
        if i % 3 == 0:
            rows[-1].set_certificate("GR", date(2023, 5, 1))
    db.session.add_all(rows)
    db.session.commit()


def _measure(client, count_queries, url):
    client.get(url)  # warm caches (user loading, templates)
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count


def test_register_and_board_query_counts_do_not_grow(client, login, make_user, district, codes,
                                                     count_queries, make_unit, freeze):
    freeze("2024-04-03T09:00")
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    db.session.commit()
    ids = [u.id for u in district.unit_list]
    _add(ids[:2], 5, codes)
    login(office)
    urls = ["/enterprises/", f"/dispatch/{period.id}", f"/dispatch/{period.id}/units/{ids[0]}",
            "/enterprises/claims", "/dispatch/"]
    small = {url: _measure(client, count_queries, url) for url in urls}
    # More enterprises, more units with targets-free enterprises, confirmations and claims.
    extra_units = [make_unit(f"新增单位{i}") for i in range(6)]
    _add(ids + [u.id for u in extra_units], 400, codes)
    for unit_id in ids[:3]:
        operations.confirm_figures(period, db.session.get(Unit, unit_id), "ok", office)
    first = db.session.get(Enterprise, 1)
    for unit in extra_units:
        operations.open_claim(first, unit, office)
    db.session.commit()
    large = {url: _measure(client, count_queries, url) for url in urls}
    assert large == small
