"""Odd numbers in URLs and query strings (issue 12, A.6): ids beyond any database integer, negative
ids, a negative year — never a server error; an id that cannot exist is a 404."""

import pytest

from taskflow.core.input_guard import DB_INT_MAX

HUGE = (str(2**31), str(2**63), str(2**64), "9" * 40)
# Query parameters some route reads as an integer (ids, pages, years, revisions).
INT_PARAMS = ("page", "team_page", "unit", "task", "revision", "year", "object_id")


def _get_rules_with_ints(app):
    """(endpoint, rule) of every GET route with an integer segment."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        ints = [name for name in rule.arguments
                if rule._converters[name].__class__.__name__.endswith("IntegerConverter")
                or "Int" in rule._converters[name].__class__.__name__]
        if ints:
            yield rule, ints


def _fill(rule, plan_code, ints, value):
    """The rule's URL with every integer segment set to `value` (a string) and the rest plausible."""
    url = rule.rule
    for name in rule.arguments:
        converter = rule._converters[name]
        if name in ints:
            filled = value
        elif name in ("code", "plan_code"):
            filled = plan_code
        elif name in ("period", "month", "key"):
            filled = "2024-03"
        else:
            filled = "1"
        url = url.replace(f"<{converter.__class__.__name__}>", filled)
        for spelling in (f"<int:{name}>", f"<{name}>", f"<string:{name}>", f"<path:{name}>"):
            url = url.replace(spelling, filled)
    return url


def test_the_int_converter_refuses_values_no_database_column_holds(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match(f"/scores/bulletins/{DB_INT_MAX}")[1] == {"bulletin_id": DB_INT_MAX}
    from werkzeug.exceptions import NotFound

    for value in (str(DB_INT_MAX + 1), str(2**63), str(2**64), "-1"):
        with pytest.raises(NotFound):
            adapter.match(f"/scores/bulletins/{value}")


@pytest.mark.parametrize("role", ["office", "admin", "reporter"])
def test_huge_and_negative_ids_in_every_get_route_are_not_found(app, client, world, login, role):
    login(world["users"][role])
    rules = list(_get_rules_with_ints(app))
    assert len(rules) > 20
    for rule, ints in rules:
        for value in (*HUGE, "-1", str(DB_INT_MAX)):
            url = _fill(rule, world["plan"].code, ints, value)
            response = client.get(url)
            assert response.status_code < 500, (role, url, response.status_code)
            if value != str(DB_INT_MAX):
                assert response.status_code == 404, (role, url, response.status_code)


@pytest.mark.parametrize("role", ["office", "admin", "reporter"])
def test_huge_integers_in_query_parameters_never_crash(app, client, world, login, role):
    """Every GET route without segments, with every integer query parameter set out of range."""
    login(world["users"][role])
    urls = [rule.rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and rule.endpoint != "readyz"]
    urls += [f"/scores/periods/2024-03?revision={2**64}"]
    for url in urls:
        for value in (*HUGE, "-5", str(DB_INT_MAX)):
            query = "&".join(f"{name}={value}" for name in INT_PARAMS)
            sep = "&" if "?" in url else "?"
            response = client.get(f"{url}{sep}{query}")
            assert response.status_code < 500, (role, url, value, response.status_code)
