"""The demo's signing side: agreements, vacating and demolition records, tenant clearances and
payment batches, written through the services as the campaign's history is replayed.

The campaign plan (:mod:`anju.demo.campaign_plan`) says when each household signs, vacates and is
demolished; this module turns those moments into the records that carry them (an agreement with
its snapshot and sign order number, a vacating acceptance, a demolition record), then pays what
fell due in batches prepared by finance and approved by the commander, leaving batches in every
state for the payments page and the approvals inbox.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.money import fen_to_yuan
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.payment import service as payment_service
from anju.policy.facts import GroupFacts

EVERYTHING = DataScope.everything()
BANKS = (
    "中国农业银行青溪支行",
    "浙江农商银行清河分理处",
    "中国工商银行埠头支行",
    "中国建设银行西河支行",
    "邮储银行仓前营业所",
)
INSPECTORS = ("陈经办", "钱验收", "孙工")
CONTRACTORS = ("青溪城建拆除工程有限公司", "埠头建筑拆除有限公司")
VACATE_NOTES = ("", "", "", "屋内留有旧家具，户主同意一并拆除处置", "水表读数已拍照存档")
ALL_CHECKED_VACATE = {
    "utilities_settled": True,
    "registration_moved": True,
    "emptied": True,
    "doors_windows_intact": True,
    "keys_handed": True,
}
ALL_CHECKED_TENANT = {"rent_settled": True, "license_moved": True, "emptied": True, "keys_handed": True}


@dataclass
class DemoSigning:
    """Writes the signing records of the demo campaign; one per build."""

    session: Session
    rng: random.Random
    manager: Actor  # case officer: signs, accepts vacating, records demolition
    finance: Actor  # prepares payment batches
    commander: Actor  # approves them
    today: date
    swap_share: dict[int, float] = field(default_factory=dict)  # project id -> share choosing 产权调换
    vacated: dict[int, list[tuple[int, date]]] = field(default_factory=lambda: defaultdict(list))
    agreements: int = 0
    # The projects' group facts (block sign and vacate dates), read once and kept up to date as
    # the campaign signs and vacates: reading them per signing made the build quadratic.
    blocks: dict[int, str] = field(default_factory=dict)  # household id -> block code
    groups: dict[int, GroupFacts] = field(default_factory=dict)  # project id -> group facts

    def _group(self, project_id: int) -> GroupFacts:
        if project_id not in self.groups:
            self.groups[project_id] = compensation_service.group_facts(self.session, project_id)
        return self.groups[project_id]

    def _moved(self, project_id: int, household_id: int, **event: date) -> None:
        weight = compensation_service.household_weight(
            self.session, project_id=project_id, household_id=household_id
        )
        self.groups[project_id] = compensation_service.group_with_event(
            self._group(project_id), block_code=self.blocks[household_id], weight=weight, **event
        )

    def _account(self) -> str:
        return "6228" + "".join(str(self.rng.randrange(10)) for _ in range(15))

    def terms(
        self, project_id: int, *, prefix: str, condition_rate_bp: int = 0, deadline: date | None = None
    ) -> None:
        """The project's signing terms: 70% on signing; a block sign-rate condition when given."""
        agreement_service.set_signing_terms(
            self.session,
            actor=self.manager,
            project_id=project_id,
            agreement_prefix=prefix,
            on_sign_share_bp=7000,
            condition_kind="block_rate" if condition_rate_bp else "none",
            condition_rate_bp=condition_rate_bp,
            condition_deadline_on=deadline,
            expected_version=None,
            reason="征收补偿方案规定的付款方式与生效条件",
            today=self.today,
        )

    def sign(self, project_id: int, household_id: int, on: date, at: datetime) -> None:
        """The family signs at ``at`` (the campaign's moment), choosing cash or swap."""
        swap = self.rng.random() < self.swap_share.get(project_id, 0.0)
        agreement_service.sign(
            self.session,
            actor=self.manager,
            scope=EVERYTHING,
            household_id=household_id,
            option="swap" if swap else "cash",
            sign_on=on,
            payee=agreement_service.Payee(bank=self.rng.choice(BANKS), account=self._account()),
            today=self.today,
            recorded_at=at,
            group=self._group(project_id),
        )
        self._moved(project_id, household_id, sign_on=on)
        self.agreements += 1

    def vacate(self, project_id: int, household_id: int, on: date, at: datetime) -> None:
        """The house is handed over empty (交验空房) on ``on``."""
        agreement_service.record_vacating(
            self.session,
            actor=self.manager,
            scope=EVERYTHING,
            household_id=household_id,
            vacated_on=on,
            checklist=ALL_CHECKED_VACATE,
            keys_handed=self.rng.randint(1, 4),
            inspector=self.rng.choice(INSPECTORS),
            note=self.rng.choice(VACATE_NOTES),
            today=self.today,
            recorded_at=at,
        )
        self.vacated[project_id].append((household_id, on))
        self._moved(project_id, household_id, vacate_on=on)

    def demolish(self, household_id: int, on: date, at: datetime) -> None:
        """The buildings are pulled down on ``on``."""
        agreement_service.record_demolition(
            self.session,
            actor=self.manager,
            scope=EVERYTHING,
            household_id=household_id,
            demolished_on=on,
            contractor=self.rng.choice(CONTRACTORS),
            note="机械拆除，建筑垃圾已清运",
            today=self.today,
            recorded_at=at,
        )

    def clear_tenants(self, project_id: int) -> int:
        """Tenants of vacated households are cleared on their landlord's vacating day (in batches
        per day, the quick entry's way); tenants of the others stay to do."""
        vacated_on = dict(self.vacated.get(project_id, []))
        by_day: dict[date, list[int]] = defaultdict(list)
        for t in household_service.project_tenants(self.session, scope=EVERYTHING, project_id=project_id):
            on = vacated_on.get(t.household_id)
            if on is not None:
                by_day[on].append(t.id)
        for on, ids in sorted(by_day.items()):
            agreement_service.record_tenant_clearances(
                self.session,
                actor=self.manager,
                scope=EVERYTHING,
                project_id=project_id,
                tenant_ids=ids,
                cleared_on=on,
                checklist=ALL_CHECKED_TENANT,
                inspector=self.rng.choice(INSPECTORS),
                today=self.today,
                recorded_at=_moment(on, 16),
            )
        return sum(len(ids) for ids in by_day.values())

    def decide_conditions(self, project_id: int) -> None:
        """Conditional agreements whose block reached the rate take effect (from the day it did)."""
        agreement_service.evaluate_conditions(
            self.session, actor=self.manager, project_id=project_id, on=self.today, today=self.today
        )

    def collective_rewards(self, project_id: int) -> int:
        """Collective rewards (整地块腾空奖励, 集体签约奖励) earned since the households signed, as the
        hourly check adds them; returns how many instalments were added."""
        run = agreement_service.check_collective_rewards(
            self.session, actor=self.manager, project_id=project_id, today=self.today
        )
        return len(run.added)

    def changes(self, project_id: int) -> int:
        """Area corrections after signing (复核测绘) on a few signed households: one amendment approved
        (revision 2 with the difference added to the schedule), one waiting in the leader's inbox,
        one only flagged; and a cancellation request waiting. Returns the number of requests."""
        live = [
            a
            for a in agreement_service.list_agreements(
                self.session, scope=EVERYTHING, project_id=project_id, status="effective"
            )
            if household_service.get_household(
                self.session, scope=EVERYTHING, household_id=a.household_id
            ).status
            == "signed"
        ]
        if len(live) < 4:
            return 0
        approved, waiting, flagged, cancel = self.rng.sample(live, 4)
        for a, extra in ((approved, "6.50"), (waiting, "4.20"), (flagged, "3.10")):
            file = household_service.get_household_file(
                self.session, scope=EVERYTHING, household_id=a.household_id
            )
            b = file.buildings[0].building
            household_service.update_building(
                self.session,
                actor=self.manager,
                scope=EVERYTHING,
                building_id=b.id,
                data={"legal_area": b.legal_area + Decimal(extra)},
                reason="复核测绘：漏登附属用房面积",
            )
        requests = 0
        for a, kind, reason in (
            (approved, "amend", "复核测绘面积增加，按现行方案重新计算补偿"),
            (waiting, "amend", "复核测绘面积增加，申请变更协议金额"),
            (cancel, "cancel", "户主去世，继承人尚未确定，申请解除协议后由继承人重新签约"),
        ):
            change = agreement_service.request_change(
                self.session,
                actor=self.manager,
                scope=EVERYTHING,
                agreement_id=a.id,
                kind=kind,
                reason=reason,
            )
            requests += 1
            if a is approved:
                agreement_service.approve_change(
                    self.session,
                    actor=self.commander,
                    scope=EVERYTHING,
                    change_id=change.id,
                    note="经核实同意变更",
                    today=self.today,
                )
        agreement_service.check_amendments(self.session, project_id=project_id)
        return requests

    # ------------------------------------------------------------------ payments

    def _batch(self, project_id: int, instalment_ids: Sequence[int], *, title: str, on: date) -> int:
        batch = payment_service.create_batch(
            self.session,
            actor=self.finance,
            project_id=project_id,
            lines=[payment_service.LineInput(i) for i in instalment_ids],
            title=title,
            now=_moment(on, 9),
        )
        return batch.id

    def _pay(self, batch_id: int, on: date, *, fail: int = 0) -> None:
        """Submit, approve, export and import the bank's result (``fail`` rows bounced)."""
        payment_service.submit_batch(self.session, actor=self.finance, batch_id=batch_id)
        payment_service.approve_batch(
            self.session, actor=self.commander, batch_id=batch_id, note="同意支付", now=_moment(on, 11)
        )
        payment_service.export_batch(self.session, actor=self.finance, batch_id=batch_id, fmt="xlsx")
        view = payment_service.get_batch(self.session, batch_id=batch_id)
        rows = []
        for n, p in enumerate(view.lines):
            failed = n < fail
            rows.append(
                payment_service.ResultRow(
                    line=n + 2,
                    line_no=str(p.line_no),
                    agreement_no=view.agreement_no(p),
                    amount=str(fen_to_yuan(p.amount_fen)),
                    result="失败" if failed else "成功",
                    bank_ref="" if failed else f"QX{on:%Y%m%d}{p.line_no:05d}",
                    failure_reason="户名与账号不符" if failed else "",
                )
            )
        payment_service.import_result(
            self.session, actor=self.finance, batch_id=batch_id, rows=rows, paid_on=on, today=self.today
        )

    def payments(self, project_id: int, paid: Sequence[tuple[int, date]], *, code: str) -> int:
        """Pay what the plan says was paid (a batch per payment day, closed by the bank's result),
        then leave one batch in each other state. Returns the number of batches."""
        batches = 0
        by_day: dict[date, list[int]] = defaultdict(list)
        for hid, on in paid:
            by_day[on].append(hid)
        days = sorted(by_day)
        for n, on in enumerate(days):
            due = agreement_service.due_instalments(self.session, project_id, household_ids=by_day[on])
            if not due:
                continue
            bid = self._batch(project_id, [i.id for i in due], title=f"{on:%m月%d日}补偿款支付", on=on)
            # The last payment day has one bounced row: a wrong account the family corrects.
            self._pay(bid, on, fail=1 if n == len(days) - 1 and len(due) > 2 else 0)
            batches += 1
        # Everything still due, spread over batches that show each state of the flow.
        due = agreement_service.due_instalments(self.session, project_id)
        by_household: dict[int, list[int]] = defaultdict(list)
        for i in due:
            by_household[i.household_id].append(i.id)
        groups = [ids for _, ids in sorted(by_household.items())]
        self.rng.shuffle(groups)
        sizes = {"exported": 5, "approved": 4, "submitted": 6, "rejected": 2, "cancelled": 2, "draft": 3}
        start = 0
        yesterday = self.today - timedelta(days=1)
        for state, size in sizes.items():
            chunk = [i for ids in groups[start : start + size] for i in ids]
            start += size
            if not chunk:
                break
            bid = self._batch(project_id, chunk, title=f"{code} 第{batches + 1}批签约款", on=yesterday)
            batches += 1
            if state == "draft":
                continue
            if state == "cancelled":
                payment_service.cancel_batch(
                    self.session, actor=self.finance, batch_id=bid, reason="与上一批重复编制，作废重编"
                )
                continue
            payment_service.submit_batch(self.session, actor=self.finance, batch_id=bid)
            if state == "submitted":
                continue
            if state == "rejected":
                payment_service.reject_batch(
                    self.session, actor=self.commander, batch_id=bid, reason="请核对收款账号后重新提交"
                )
                continue
            payment_service.approve_batch(
                self.session, actor=self.commander, batch_id=bid, note="同意", now=_moment(self.today, 10)
            )
            if state == "exported":
                payment_service.export_batch(self.session, actor=self.finance, batch_id=bid, fmt="xlsx")
        return batches


def _moment(on: date, hour: int) -> datetime:
    """``hour`` o'clock office time (UTC+8) on ``on``, as a UTC datetime."""
    return datetime.combine(on, time(hour)).replace(tzinfo=UTC) - timedelta(hours=8)
