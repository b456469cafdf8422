"""The operator map's tile setting and the Content-Security-Policy derived from it: only an
http(s) template Leaflet can fill, on one plain host, and exactly that origin in img-src."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contact.config import HttpSettings, tile_origin
from contact.http.errors import content_security_policy
from contact.http.map_tiles import page_context


@pytest.mark.parametrize(
    "url",
    [
        "https://tiles.example.kz/{z}/{x}/{y}.png",
        "http://127.0.0.1:8099/tiles/{z}/{x}/{y}.png",
        "https://maps.police.kz/osm/{z}/{x}/{y}{r}.png?key=abc&style=day",
        "https://tms.example.kz/layer/{z}/{x}/{-y}.jpg",
    ],
)
def test_tile_templates_leaflet_can_fill_are_accepted(url: str) -> None:
    assert HttpSettings(map_tile_url=url).map_tile_url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://tiles.example.kz/{z}/{x}/{y}.png", "http:// or https://"),
        ("//tiles.example.kz/{z}/{x}/{y}.png", "http:// or https://"),
        ("/tiles/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://{s}.tile.example.kz/{z}/{x}/{y}.png", "no {s}"),
        ("https://user:secret@tiles.example.kz/{z}/{x}/{y}.png", "no credentials"),
        ("https://[::1]/{z}/{x}/{y}.png", "IPv4"),
        ("https://tiles.example.kz:70000/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://tiles.example.kz", "http:// or https://"),
        ("https://tiles example.kz/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://tiles.example.kz/{z}/{x} /{y}.png", "http:// or https://"),
        ("https://tiles.example.kz/{z}/{x}.png", "needs {z}, {x} and {y}"),
        ("https://tiles.example.kz/{x}/{y}.png", "needs {z}, {x} and {y}"),
        ("https://tiles.example.kz/{z}/{x}/{y}/{style}.png", "unknown placeholder"),
        ("https://tiles.example.kz/{z}/{x}/{y}.png{", "stray brace"),
        ("https://tiles.example.kz/{z}/{x}/{y}}.png", "stray brace"),
        ("https://tiles.example.kz;img-src*/{z}/{x}/{y}.png", "http:// or https://"),
    ],
)
def test_anything_else_is_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpSettings(map_tile_url=url)
    assert "CONTACT_HTTP_MAP_TILE_URL" in str(caught.value)
    assert why in str(caught.value)


def test_no_tile_url_is_the_default_and_means_no_tiles() -> None:
    settings = HttpSettings()
    assert settings.map_tile_url == "" and settings.map_tile_origin is None
    assert page_context(settings) == {"map_tile_url": "", "map_tile_attribution": ""}


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACT_HTTP_MAP_TILE_URL", " https://tiles.example.kz/{z}/{x}/{y}.png ")
    monkeypatch.setenv("CONTACT_HTTP_MAP_TILE_ATTRIBUTION", "© OpenStreetMap")
    settings = HttpSettings()
    assert settings.map_tile_url == "https://tiles.example.kz/{z}/{x}/{y}.png"
    assert page_context(settings)["map_tile_attribution"] == "© OpenStreetMap"
    with pytest.raises(ValidationError):
        HttpSettings(map_tile_attribution="x" * 301)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Tiles.Example.kz/{z}/{x}/{y}.png", "https://tiles.example.kz"),
        ("https://tiles.example.kz:443/{z}/{x}/{y}.png", "https://tiles.example.kz"),
        ("http://tiles.example.kz:80/{z}/{x}/{y}.png", "http://tiles.example.kz"),
        ("https://tiles.example.kz:8443/a/{z}/{x}/{y}.png?k=1", "https://tiles.example.kz:8443"),
        ("http://127.0.0.1:8099/{z}/{x}/{y}.png", "http://127.0.0.1:8099"),
    ],
)
def test_the_origin_is_scheme_host_and_a_port_other_than_the_default(url: str, origin: str) -> None:
    assert tile_origin(url) == origin
    assert HttpSettings(map_tile_url=url).map_tile_origin == origin


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in policy.split(";"))
    return {words[0]: words[1:] for words in parts if words}


def test_csp_without_tiles_loads_images_only_from_the_page_itself() -> None:
    policy = _directives(content_security_policy())
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_csp_with_tiles_adds_exactly_that_origin_to_img_src_and_nothing_else() -> None:
    plain = _directives(content_security_policy(("ws://127.0.0.1:8088",)))
    tiled = _directives(
        content_security_policy(("ws://127.0.0.1:8088",), ("https://tiles.example.kz",))
    )
    assert tiled["img-src"] == ["'self'", "data:", "blob:", "https://tiles.example.kz"]
    assert tiled["connect-src"] == ["'self'", "ws://127.0.0.1:8088"]
    assert {k: v for k, v in tiled.items() if k != "img-src"} == {
        k: v for k, v in plain.items() if k != "img-src"
    }
