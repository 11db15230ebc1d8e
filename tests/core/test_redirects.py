"""After sign-in and after a language switch the app redirects only to a path on this site: a
`next` that a browser would read as another host (issue 12, A.5) falls back to the home page."""

import pytest

from tests.conftest import TEST_PASSWORD

HOSTILE = [
    "//evil.example/x",
    "/\t/evil.example/x",      # what ?next=/%09/evil.example/x decodes to
    "/\n/evil.example/x",
    "/\\evil.example/x",
    "/\\/evil.example/x",
    "https://evil.example/x",
    "javascript:alert(1)",
    " /x",
]


def _location(response) -> str:
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_never_redirects_off_the_site(client, make_user, target):
    user = make_user("office")
    response = client.post("/login", query_string={"next": target},
                           data={"username": user.username, "password": TEST_PASSWORD})
    location = _location(response)
    assert location == "/" and "evil" not in location


def test_the_encoded_tab_of_the_attack_is_refused_as_sent(client, make_user):
    user = make_user("office")
    response = client.post("/login?next=/%09/evil.example/x",
                           data={"username": user.username, "password": TEST_PASSWORD})
    assert _location(response) == "/"


def test_sign_in_returns_to_the_page_that_asked(client, make_user):
    user = make_user("office")
    response = client.post("/login", query_string={"next": "/notices/overdue?unit=3"},
                           data={"username": user.username, "password": TEST_PASSWORD})
    assert _location(response) == "/notices/overdue?unit=3"


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_never_redirects_off_the_site(client, target):
    response = client.post("/locale", data={"locale": "en", "next": target})
    assert _location(response) == "/"


def test_language_switch_returns_to_the_same_page(client):
    response = client.post("/locale", data={"locale": "en", "next": "/measures/"})
    assert _location(response) == "/measures/"
