"""The admins' page of the operators' quick replies (`/admin/quick-replies`): the kk and ru
lists in the operators' order, add, edit, delete (after a confirmation) and move up or down.

Server-rendered forms, no script. Every POST carries the session's CSRF token (`csrf_token`,
checked as the API checks `X-CSRF-Token`), every change goes through the API's own audited
changes (`workspace.add_reply`, `change_reply`, `remove_reply`: `quick_reply.create|update|
delete` with what changed), and a refused form comes back as it was typed, each problem said
beside its field in the admin's language. Operators and supervisors get the 403 page in theirs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from contact.domain.model import Language, Operator, Role, new_id
from contact.errors import NotFound, Unprocessable
from contact.http.auth import Principal, check_csrf, need_principal
from contact.http.edge import read_form
from contact.http.keys import CONTAINER
from contact.http.openapi import SESSION, operation
from contact.http.pages import _render, render_page, see_other, ui_language
from contact.http.workspace import (
    LABEL_MAX,
    POSITION_MAX,
    TEXT_MAX,
    add_reply,
    change_reply,
    remove_reply,
    reply_problems,
)
from contact.i18n import message
from contact.persistence.quick_replies import MAX_REPLIES, QuickReply

PATH = "/admin/quick-replies"
LANGUAGES = tuple(x.value for x in Language)  # kk, ru: what the replies are written in
FIELDS = ("language", "label", "text", "position")
DONE = frozenset({"created", "updated", "deleted", "moved"})
_ID_MAX = 80


async def _admin(request: web.Request) -> tuple[Principal, Operator, web.Response | None]:
    """The signed-in user, and the 403 page in her language unless she is an admin."""
    principal = need_principal(request)
    operator = await request.app[CONTAINER].db.operators.get(principal.operator_id)
    if principal.role.at_least(Role.ADMIN):
        return principal, operator, None
    refused = render_page(
        "error.html",
        request,
        ui_language(request, operator.ui_language),
        status=403,
        error_title="ui.error_403",
        error_text="ui.error_403_text",
        operator=operator,
        csrf_token=principal.csrf_token,
    )
    return principal, operator, refused


async def _checked_form(request: web.Request, principal: Principal) -> dict[str, str]:
    form = await read_form(request)
    check_csrf(request, principal, form.get("csrf_token", ""))
    return form


def _values(form: dict[str, str]) -> dict[str, str]:
    # a textarea sends CRLF: one line break is one character, as the operator's box has it
    return {k: form.get(k, "").replace("\r\n", "\n") for k in FIELDS}


def _reply_values(r: QuickReply) -> dict[str, str]:
    return {"language": r.language, "label": r.label, "text": r.text, "position": str(r.position)}


async def _position(request: web.Request, values: dict[str, str]) -> int | None:
    """The typed order; empty: after the last of the reply's list; None: not a number."""
    typed = values["position"].strip()
    if not typed:
        if values["language"] not in LANGUAGES:
            return 0
        same = await request.app[CONTAINER].db.quick_replies.list(values["language"])
        return min(POSITION_MAX, max((r.position for r in same), default=0) + 1)
    if not (typed.isascii() and typed.removeprefix("-").isdigit()):
        return None
    try:
        return int(typed)
    except ValueError:  # more digits than Python reads
        return None


def _errors(problems: dict[str, str], values: dict[str, str], lang: str) -> dict[str, str]:
    """Each field's problem in words."""
    said: dict[str, str] = {}
    for field, problem in problems.items():
        if problem.endswith("_long"):
            said[field] = message(f"ui.qr_err_{problem}", lang, count=len(values[field]))
        elif problem == "position":
            said[field] = message("ui.qr_err_position", lang, max=POSITION_MAX)
        elif problem == "too_many":  # the reply's list is full
            said[field] = message("ui.qr_err_too_many", lang, count=MAX_REPLIES)
        else:
            said[field] = message(f"ui.qr_err_{problem}", lang)
    return said


async def _page(
    request: web.Request,
    principal: Principal,
    operator: Operator,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: str | None = None,
    deleting: QuickReply | None = None,
    gone: bool = False,
    done: str | None = None,
) -> web.Response:
    lang = ui_language(request, operator.ui_language)
    replies = await request.app[CONTAINER].db.quick_replies.list()
    lists = {code: [r for r in replies if r.language == code] for code in LANGUAGES}
    if values is None:  # a new reply, in the admin's language when replies are written in it
        written = lang.value if lang.value in LANGUAGES else Language.RU.value
        values = dict.fromkeys(FIELDS, "") | {"language": written}
    return _render(
        "admin_quick_replies.html",
        request,
        status=status,
        operator=operator,
        csrf_token=principal.csrf_token,
        m=lambda key, **v: message(key, lang, **v),
        path=PATH,
        nav_current=PATH,
        lists=lists,
        languages=LANGUAGES,
        values=values,
        errors=errors or {},
        # the cursor goes to the first field to correct, or to the label of the reply to edit
        focus=next(iter(errors or {}), "label" if editing and not deleting else None),
        editing=editing,
        action=f"{PATH}/{editing}" if editing else PATH,
        deleting=deleting,
        gone=gone,
        done=done if done in DONE else None,
        label_max=LABEL_MAX,
        text_max=TEXT_MAX,
        max_replies=MAX_REPLIES,
    )


async def _find(request: web.Request, reply_id: str | None) -> QuickReply | None:
    if not reply_id or len(reply_id) > _ID_MAX:
        return None
    try:
        return await request.app[CONTAINER].db.quick_replies.get(reply_id)
    except NotFound:
        return None


async def quick_replies_page(request: web.Request) -> web.Response:
    principal, operator, refused = await _admin(request)
    if refused is not None:
        return refused
    q = request.query
    editing = await _find(request, q.get("edit"))
    return await _page(
        request,
        principal,
        operator,
        values=_reply_values(editing) if editing else None,
        editing=editing.id if editing else None,
        deleting=await _find(request, q.get("delete")),
        gone="edit" in q and editing is None,
        done=q.get("done"),
    )


async def _submitted(
    request: web.Request, principal: Principal, operator: Operator, reply_id: str | None
) -> web.Response:
    """A new reply (reply_id None) or an edit: saved and back to the list, or the form again
    with what was typed and what is wrong (422)."""
    c = request.app[CONTAINER]
    values = _values(await _checked_form(request, principal))
    lang = ui_language(request, operator.ui_language).value
    before = await _find(request, reply_id) if reply_id else None
    if reply_id and before is None:  # deleted meanwhile: offer to add it again, nothing lost
        return await _page(request, principal, operator, status=409, values=values, gone=True)
    position = await _position(request, values)
    problems = reply_problems(
        values["language"], values["label"], values["text"], -1 if position is None else position
    )
    if not problems and position is not None:
        reply = QuickReply(
            before.id if before else "qr-" + new_id(),
            values["language"],
            values["label"].strip(),
            values["text"].strip(),
            position,
        )
        try:
            if before is None:
                await add_reply(c, principal.operator_id, reply)
            else:
                await change_reply(c, principal.operator_id, before, reply)
        except Unprocessable as exc:
            if exc.error_id != "too_many_replies":
                raise
            problems = {"language": "too_many"}
        else:
            done = "created" if before is None else "updated"
            return see_other(f"{PATH}?done={done}#reply-{reply.id}")
    return await _page(
        request,
        principal,
        operator,
        status=422,
        values=values,
        errors=_errors(problems, values, lang),
        editing=before.id if before else None,
    )


async def create(request: web.Request) -> web.Response:
    principal, operator, refused = await _admin(request)
    if refused is not None:
        return refused
    return await _submitted(request, principal, operator, None)


async def update(request: web.Request) -> web.Response:
    principal, operator, refused = await _admin(request)
    if refused is not None:
        return refused
    return await _submitted(request, principal, operator, request.match_info["reply_id"])


async def delete(request: web.Request) -> web.Response:
    principal, _, refused = await _admin(request)
    if refused is not None:
        return refused
    await _checked_form(request, principal)
    before = await _find(request, request.match_info["reply_id"])
    if before is not None:  # already gone: what was asked for is done
        await remove_reply(request.app[CONTAINER], principal.operator_id, before)
    return see_other(f"{PATH}?done=deleted")


async def move(request: web.Request) -> web.Response:
    """One place up or down in its language's list: the two replies swap their positions (the
    list is numbered 1, 2, … first where positions tie); each changed reply is audited."""
    principal, _, refused = await _admin(request)
    if refused is not None:
        return refused
    form = await _checked_form(request, principal)
    c = request.app[CONTAINER]
    moved = await _find(request, request.match_info["reply_id"])
    if moved is None:
        raise NotFound("no such quick reply", error_id="quick_reply_not_found")
    same = await c.db.quick_replies.list(moved.language)
    i = next((n for n, r in enumerate(same) if r.id == moved.id), -1)
    j = i - 1 if form.get("direction") == "up" else i + 1
    if i >= 0 and 0 <= j < len(same):
        positions = [r.position for r in same]
        if len(set(positions)) < len(positions):
            positions = list(range(1, len(same) + 1))
        order = list(same)
        order[i], order[j] = order[j], order[i]
        for reply, position in zip(order, positions, strict=True):
            if reply.position != position:
                changed = dataclasses.replace(reply, position=position)
                await change_reply(c, principal.operator_id, reply, changed)
    return see_other(f"{PATH}?done=moved#reply-{moved.id}")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, quick_replies_page)
    r.add_post(PATH, create)
    r.add_post(f"{PATH}/{{reply_id}}", update)
    r.add_post(f"{PATH}/{{reply_id}}/delete", delete)
    r.add_post(f"{PATH}/{{reply_id}}/move", move)


_PAGE: dict[str, Any] = {"security": SESSION, "tags": ["pages"]}
_REPLY_ID = {"name": "reply_id", "in": "path", "required": True, "schema": {"type": "string"}}
_FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {
            "type": "object",
            "required": ["csrf_token"],
            "properties": {
                "csrf_token": {"type": "string"},
                "language": {"type": "string", "enum": list(LANGUAGES)},
                "label": {"type": "string"},
                "text": {"type": "string"},
                "position": {"type": "string", "description": "empty: after the last"},
                "direction": {"type": "string", "enum": ["up", "down"]},
            },
        }
    }
}
_SAVED = {
    "303": {"description": "saved: to the list"},
    "403": {"description": "not an admin, or CSRF"},
}
OPENAPI: dict[str, Any] = {
    PATH: {
        "get": operation(
            "Admins' page of the quick replies (kk, ru): lists, add, edit, delete, reorder",
            {"200": {"description": "HTML"}, "403": {"description": "role"}},
            **_PAGE,
        ),
        "post": operation(
            "Add a quick reply (form); audited. 422: the form again, said what is wrong",
            {**_SAVED, "422": {"description": "HTML: the form as typed"}},
            body=_FORM,
            **_PAGE,
        ),
    },
    f"{PATH}/{{reply_id}}": {
        "post": operation(
            "Change a quick reply (form); audited with before and after. 409: it was deleted "
            "meanwhile (the form again, to add it)",
            {
                **_SAVED,
                "409": {"description": "HTML: deleted meanwhile"},
                "422": {"description": "HTML: the form as typed"},
            },
            parameters=[_REPLY_ID],
            body=_FORM,
            **_PAGE,
        )
    },
    f"{PATH}/{{reply_id}}/delete": {
        "post": operation(
            "Delete a quick reply (form); audited",
            _SAVED,
            parameters=[_REPLY_ID],
            body=_FORM,
            **_PAGE,
        )
    },
    f"{PATH}/{{reply_id}}/move": {
        "post": operation(
            "Move a quick reply one place up or down in its list (form, `direction`); each "
            "changed position audited",
            {**_SAVED, "404": {"description": "no such reply"}},
            parameters=[_REPLY_ID],
            body=_FORM,
            **_PAGE,
        )
    },
}
