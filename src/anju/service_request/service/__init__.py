"""Use cases of the five-order request loop (五单工作法): submit, the desk (accept, reject, merge,
postponement decisions), handling (take, send back, postpone, publish), verification (verify,
reopen, auto-close), the clock (overdue, escalation) and queries. Services never commit."""

from anju.service_request.models import ServiceRequest
from anju.service_request.service._common import RESIDENT, SYSTEM, TOPIC, member_departments
from anju.service_request.service.deadlines import EscalationRun, due_ids, escalate, escalate_one
from anju.service_request.service.desk import accept, decide_postpone, merge, reject
from anju.service_request.service.handle import publish, request_postpone, send_back, take
from anju.service_request.service.queries import (
    Filters,
    RequestPage,
    by_code,
    get,
    history,
    list_requests,
    names,
    photos,
)
from anju.service_request.service.submit import (
    Location,
    Photo,
    Submitted,
    hash_secret,
    nearby,
    secret_matches,
    submit,
)
from anju.service_request.service.verify import auto_close, reopen, verify

__all__ = [
    "RESIDENT",
    "SYSTEM",
    "TOPIC",
    "EscalationRun",
    "Filters",
    "Location",
    "Photo",
    "RequestPage",
    "ServiceRequest",
    "Submitted",
    "accept",
    "auto_close",
    "by_code",
    "decide_postpone",
    "due_ids",
    "escalate",
    "escalate_one",
    "get",
    "hash_secret",
    "history",
    "list_requests",
    "member_departments",
    "merge",
    "names",
    "nearby",
    "photos",
    "publish",
    "reject",
    "reopen",
    "request_postpone",
    "secret_matches",
    "send_back",
    "submit",
    "take",
    "verify",
]
