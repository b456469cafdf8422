"""The plugin seam: the loader orders plugins by what they require and refuses a configuration
that switches one on without a plugin it requires; the container's parts are typed keys."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import pytest

import contact.plugins
from contact import i18n
from contact.cli import main
from contact.config import Settings
from contact.context import Container, Key, Plugin, resolve
from contact.errors import ConfigError
from contact.plugins import all_plugins, enabled_plugins


def _plugin(name: str, on: bool = True, **kwargs: Any) -> Plugin:
    return Plugin(name=name, enabled=lambda _settings: on, **kwargs)


def test_a_plugin_comes_after_what_it_requires() -> None:
    listen = _plugin("listen", requires=("phone",), switch="CONTACT_LISTEN_ENABLED")
    phone = _plugin("phone", switch="CONTACT_PHONE_ENABLED")
    chat = _plugin("chat")
    assert [p.name for p in resolve([listen, chat, phone], Settings())] == [
        "phone",
        "listen",
        "chat",
    ]


def test_a_plugin_without_what_it_requires_is_refused_by_name_and_setting() -> None:
    listen = _plugin("listen", requires=("phone",), switch="CONTACT_LISTEN_ENABLED")
    phone = _plugin("phone", on=False, switch="CONTACT_PHONE_ENABLED")
    with pytest.raises(ConfigError) as refused:
        resolve([listen, phone], Settings())
    message = refused.value.message
    assert "'listen'" in message and "'phone'" in message
    assert "CONTACT_PHONE_ENABLED" in message and "CONTACT_LISTEN_ENABLED" in message
    assert refused.value.error_id == "plugin_requirement_off"
    assert refused.value.details == {"plugin": "listen", "requires": "phone"}


def test_an_off_plugin_requires_nothing() -> None:
    listen = _plugin("listen", on=False, requires=("phone",))
    phone = _plugin("phone", on=False)
    assert resolve([listen, phone], Settings()) == ()


def test_a_requirement_that_is_no_plugin_is_refused() -> None:
    with pytest.raises(ConfigError, match="'ghost', which does not exist"):
        resolve([_plugin("listen", requires=("ghost",))], Settings())


def test_plugins_that_require_each_other_are_refused() -> None:
    a = _plugin("a", requires=("b",))
    b = _plugin("b", requires=("a",))
    with pytest.raises(ConfigError, match="circle"):
        resolve([a, b], Settings())


def test_the_shipped_plugins_name_only_plugins_that_exist() -> None:
    plugins = {p.name: p for p in all_plugins()}
    assert len(plugins) == len(all_plugins())
    for plugin in plugins.values():
        assert set(plugin.requires) | set(plugin.uses) <= set(plugins) - {plugin.name}
        assert plugin.switch, f"{plugin.name} names no setting that switches it"
    assert plugins["transcribe"].requires == ("telephony",)


def test_transcription_is_installed_after_telephony() -> None:
    settings = Settings.model_validate({"asterisk": {"enabled": True}})
    names = [p.name for p in enabled_plugins(settings)]
    assert names.index("telephony") < names.index("transcribe")
    # without telephony, transcription follows it off (CONTACT_TRANSCRIBE_ENABLED's default)
    assert "transcribe" not in [p.name for p in enabled_plugins(Settings())]


def _bare_container() -> Container:
    # the parts registry needs none of the services
    needed = [f.name for f in fields(Container) if f.default is f.default_factory is MISSING]
    nothing: dict[str, Any] = dict.fromkeys(needed)
    return Container(**nothing)


def test_parts_are_typed_keys_and_provided_once() -> None:
    container = _bare_container()
    words: Key[list[str]] = Key("words")
    other: Key[list[str]] = Key("words")  # same name, another key: no collision
    assert container.find(words) is None and words not in container
    with pytest.raises(LookupError, match="words is not provided"):
        container.get(words)
    container.provide(words, ["алло"])
    assert container.get(words) == ["алло"] and words in container and other not in container
    with pytest.raises(ValueError, match="already provided"):
        container.provide(words, [])
    container.provide(other, ["second"])
    assert list(container.parts()) == [("words", ["алло"]), ("words", ["second"])]


def test_serve_refuses_a_plugin_without_what_it_requires(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listen = _plugin("listen", requires=("telephony",), switch="CONTACT_LISTEN_ENABLED")
    monkeypatch.setattr(contact.plugins, "PLUGINS", (*contact.plugins.PLUGINS, listen))
    monkeypatch.setenv("CONTACT_ASTERISK_ENABLED", "false")
    assert main(["serve"]) == 2  # refused before anything is built or listens
    err = capsys.readouterr().err
    assert "invalid configuration" in err and "'listen' requires plugin 'telephony'" in err
    assert "CONTACT_ASTERISK_ENABLED" in err


def test_a_plugins_texts_join_the_catalogue_and_a_key_is_one_features() -> None:
    texts = {"ui.test_plugin_hello": {"kk": "Сәлем", "ru": "Привет", "en": "Hello"}}
    Plugin(name="hello", enabled=lambda _s: False, texts=texts)
    assert i18n.text("ui.test_plugin_hello", "kk") == "Сәлем"
    Plugin(name="again", enabled=lambda _s: False, texts=texts)  # the same words: fine
    other = {"ui.test_plugin_hello": {"ru": "Хай"}}
    with pytest.raises(ValueError, match=r"ui\.test_plugin_hello is declared twice"):
        Plugin(name="other", enabled=lambda _s: False, texts=other)
    del i18n.CATALOGUE["ui.test_plugin_hello"]


def test_every_feature_brings_its_own_texts() -> None:
    from contact.plugins import PLUGINS

    owners = {p.name: set(p.texts) for p in PLUGINS}
    assert "ui.dispatch_send" in owners["dispatch"]
    assert "call.caller_invalid" in owners["telephony"]
    assert "transcript.no_model" in owners["transcribe"]
    assert "alarm.kind.panic" in owners["alarm"] and "camera.kind.weapon" in owners["camera"]
    for name, keys in owners.items():  # the kernel's catalogue does not hold them twice
        others = set().union(*(k for n, k in owners.items() if n != name))
        assert not keys & others, name
