"""Open311 GeoReport v2 under ``/open311/v2/``: discovery, services, service definitions, POST and
GET requests, GET one request; every resource in XML (required by the specification) and JSON, the
format named by the path suffix. No login: only POST requests needs an ``api_key``.

Errors are the specification's list of {code, description} with HTTP 404 (no such resource, a
wrong ``jurisdiction_id``), 403 (a missing or bad ``api_key``) and 400 (anything else), in the
format the path asked for (XML when the suffix itself is wrong). The unit of work commits only a
successful POST, so a refused one writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.errors import DomainError
from anju.service_request import open311 as o
from anju.service_request.service import open311 as open311_service
from anju.web.deps import get_db

router = APIRouter(tags=["open311"], include_in_schema=False)
BASE = "/open311/v2"
#: When the endpoint last changed (discovery's changeset).
CHANGESET = "2026-12-05T12:00:00+08:00"


def _reply(fmt: str, root: str, build: Callable[[], Any], *, status: int = 200) -> Response:
    """Render what ``build`` returns, or the Open311 error it raises, in ``fmt``."""
    try:
        tree = build()
    except o.Open311Error as exc:
        return _error(fmt, exc)
    except DomainError as exc:
        code = exc.http_status if exc.http_status in (o.NOT_FOUND, o.FORBIDDEN) else o.BAD_REQUEST
        return _error(fmt, o.Open311Error(code, exc.message_zh))
    body, media_type = o.encode(fmt, root, tree)
    return Response(body, status_code=status, media_type=media_type)


def _error(fmt: str, exc: o.Open311Error) -> Response:
    body, media_type = o.encode(fmt if fmt in o.FORMATS else "xml", "errors", o.errors_tree(exc))
    return Response(body, status_code=exc.code, media_type=media_type)


def _check_jurisdiction(params: Mapping[str, str]) -> None:
    given = params.get("jurisdiction_id", "").strip()
    if given and given != get_settings().open311_jurisdiction_id:
        raise o.Open311Error(o.NOT_FOUND, f"jurisdiction_id“{given}”不在本服务范围内")


def _format(fmt: str) -> str:
    if fmt not in o.FORMATS:
        raise o.Open311Error(o.NOT_FOUND, f"不支持的格式“{fmt}”：路径须以 .json 或 .xml 结尾")
    return fmt


def _discovery(request: Request) -> dict[str, Any]:
    settings = get_settings()
    return {
        "changeset": CHANGESET,
        "contact": settings.open311_contact,
        "key_service": settings.open311_key_service,
        "endpoints": [
            {
                "specification": o.SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + BASE,
                "changeset": CHANGESET,
                "type": "production",
                "formats": list(o.DISCOVERY_FORMATS),
            }
        ],
    }


@router.get(BASE + "/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    """Service discovery: the endpoint, its specification and formats."""

    def build() -> Any:
        _format(fmt)
        return _discovery(request)

    return _reply(fmt, "discovery", build)


@router.get(BASE + "/services.{fmt}")
def services(fmt: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """Every active request category as an Open311 service."""

    def build() -> Any:
        _format(fmt)
        _check_jurisdiction(request.query_params)
        return open311_service.services(db)

    return _reply(fmt, "services", build)


@router.get(BASE + "/services/{name}")
def service_definition(name: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """The definition (attributes) of one service: ``services/{service_code}.(json|xml)``."""
    fmt = name.rpartition(".")[2] if "." in name else "xml"

    def build() -> Any:
        stem, _ = o.split_format(name)
        _check_jurisdiction(request.query_params)
        return open311_service.definition(db, service_code=stem)

    return _reply(fmt, "service_definition", build)


@router.get(BASE + "/requests.{fmt}")
def get_requests(fmt: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """Requests by ids, or by service codes, a date span (at most 90 days) and status."""

    def build() -> Any:
        _format(fmt)
        _check_jurisdiction(request.query_params)
        return open311_service.search(db, params=request.query_params)

    return _reply(fmt, "service_requests", build)


@router.post(BASE + "/requests.{fmt}")
async def post_request(fmt: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """File a request (form-encoded, as the specification posts): needs an ``api_key``."""
    form = await request.form()
    fields: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue  # files are not part of GeoReport v2 (media_url is a link)
        if key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute[") : -1]
            # multivaluelist answers come as attribute[code][]=a&attribute[code][]=b
            answers.setdefault(code.removesuffix("]["), []).append(value)
        else:
            fields.setdefault(key, value)
    # The key may also come in the query string (clients differ).
    api_key = fields.get("api_key") or request.query_params.get("api_key", "")

    def build() -> Any:
        _format(fmt)
        _check_jurisdiction({**request.query_params, **fields})
        return open311_service.create(db, api_key=api_key, form=fields, attributes=answers)

    return _reply(fmt, "service_requests", build)


@router.get(BASE + "/requests/{name}")
def get_request(name: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """One request (``requests/{service_request_id}.(json|xml)``), as a list of one."""
    fmt = name.rpartition(".")[2] if "." in name else "xml"

    def build() -> Any:
        stem, _ = o.split_format(name)
        _check_jurisdiction(request.query_params)
        return open311_service.one(db, service_request_id=stem)

    return _reply(fmt, "service_requests", build)
