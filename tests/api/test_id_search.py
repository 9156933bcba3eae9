"""Searching by identity number never puts the number in a URL (pages and JSON API)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from anju.household import search as household_search
from tests.factories import World, id_number

HX = {"HX-Request": "true", "HX-Target": "results"}
NUMBER = id_number(2)  # member of the second household, 李秀英


def _list_url(world: World) -> str:
    return f"/projects/{world.project_id}/households"


def test_htmx_search_by_number_pushes_a_token_not_the_number(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("case_officer")
    r = client.post(
        _list_url(world) + "/search", data={"q": NUMBER, "sort": "code"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert r.status_code == 200
    assert "李秀英" in r.text and "张建国" not in r.text
    pushed = r.headers["HX-Push-Url"]
    assert NUMBER not in pushed and NUMBER[:15] not in pushed
    parts = urlsplit(pushed)
    assert parts.path == _list_url(world) and list(parse_qs(parts.query)) == ["qt"]
    # the kept address opens the same result, without the number anywhere on the page
    page = client.get(pushed)
    assert page.status_code == 200
    assert "李秀英" in page.text and "张建国" not in page.text
    assert NUMBER not in page.text
    assert 'name="q" value=""' in page.text and "已按身份证号查找" in page.text
    # two searches for one number give different tokens (nothing to correlate in logs)
    r2 = client.post(_list_url(world) + "/search", data={"q": NUMBER}, headers={**HX, "X-CSRF-Token": csrf})
    assert r2.headers["HX-Push-Url"] != pushed


def test_name_search_keeps_the_text_in_the_url(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("case_officer")
    r = client.post(
        _list_url(world) + "/search", data={"q": "志强", "status": ""}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and "王志强" in r.text
    assert parse_qs(urlsplit(r.headers["HX-Push-Url"]).query) == {"q": ["志强"]}


def test_form_post_without_script_redirects_to_the_token_address(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("case_officer")
    r = client.post(
        _list_url(world) + "/search",
        data={"q": NUMBER, "csrf_token": csrf, "desc": "true"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert NUMBER not in location
    assert set(parse_qs(urlsplit(location).query)) == {"qt", "desc"}


def test_search_post_needs_csrf_and_permission(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, _csrf, world = client_as("case_officer")
    r = client.post(_list_url(world) + "/search", data={"q": NUMBER}, headers=HX)
    assert r.status_code == 403
    client, csrf, world = client_as("admin")  # no household.read
    r = client.post(_list_url(world) + "/search", data={"q": NUMBER}, headers={**HX, "X-CSRF-Token": csrf})
    assert r.status_code == 403


def test_a_number_typed_into_the_address_is_moved_out_of_it(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, _csrf, world = client_as("case_officer")
    for q in (NUMBER, NUMBER[:17] + "0", "110105491231002"):  # valid, wrong check digit, 15 digits
        r = client.get(_list_url(world), params={"q": q, "status": "registered"}, follow_redirects=False)
        assert r.status_code == 303, q
        location = r.headers["location"]
        assert q not in location
        assert set(parse_qs(urlsplit(location).query)) == {"qt", "status"}


def test_a_tampered_token_is_ignored(client_as: Callable[[str], tuple[TestClient, str, World]]) -> None:
    client, _csrf, world = client_as("case_officer")
    token = household_search.make_token(NUMBER)
    bad = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert household_search.read_token(bad) is None
    assert household_search.read_token("%%%") is None
    assert household_search.read_token("x" * 1000) is None
    assert household_search.read_token(token) == NUMBER
    r = client.get(_list_url(world), params={"qt": bad})
    assert r.status_code == 200 and NUMBER not in r.text


def test_api_get_refuses_a_number_and_post_search_finds_it(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("finance")
    url = f"/api/v1/projects/{world.project_id}/households"
    r = client.get(url, params={"q": NUMBER})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    assert body["message"].startswith("按身份证号查询时，身份证号不得出现在网址中")
    assert "/households/search" in body["message"]
    assert client.get(url, params={"q": "李秀"}).json()["total"] == 1  # other searches still work by GET
    r = client.post(url + "/search", json={"q": NUMBER}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1 and [i["head_name"] for i in page["items"]] == ["李秀英"]
    assert client.post(url + "/search", json={"q": NUMBER}).status_code == 403  # CSRF as every POST
    r = client.post(url + "/search", json={"q": "", "size": 0}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    doc = client.get("/api/v1/openapi.json").json()
    assert "post" in doc["paths"]["/api/v1/projects/{project_id}/households/search"]
