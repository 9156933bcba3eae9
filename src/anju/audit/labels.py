"""Words for the audit log: what each action, record kind and changed field is called.

The log stores stable codes (``sign``, ``policy_version``, ``sign_on``); people read the words.
Every action and entity code any service audits must have a label here (a unit test collects the
codes from the source); a field without a label falls back to its household-form label and then
to a neutral "其他字段" name, never to the code. Pure tables, no I/O.
"""

from __future__ import annotations

from typing import Any

# code -> (Chinese, English)
ACTIONS: dict[str, tuple[str, str]] = {
    "amend": ("协议变更", "amended"),
    "approve": ("审批通过", "approved"),
    "assign": ("包户分配", "assigned"),
    "cancel": ("撤销", "cancelled"),
    "clear": ("清退完成", "cleared"),
    "create": ("新增", "created"),
    "delete": ("删除", "deleted"),
    "demolish": ("拆除登记", "demolished"),
    "due": ("到期应付", "fell due"),
    "edit": ("编辑", "edited"),
    "effective": ("协议生效", "took effect"),
    "export": ("导出", "exported"),
    "finish_selection": ("选房结束", "selection finished"),
    "fix_order": ("确定选房顺序", "order fixed"),
    "flat_status": ("房源状态变更", "flat status changed"),
    "import": ("导入", "imported"),
    "import_flats": ("导入房源", "flats imported"),
    "building_rise": ("楼型变更", "building rise changed"),
    "issue": ("签发", "issued"),
    "open": ("开始", "opened"),
    "payment_commit": ("列入支付批次", "put into a payment batch"),
    "payment_paid": ("已支付", "paid"),
    "payment_release": ("移出支付批次", "released from a payment batch"),
    "payment_result": ("登记银行回单", "bank result recorded"),
    "publish": ("发布", "published"),
    "publish_commitment": ("发布承诺", "commitment published"),
    "reassign": ("重新分配", "reassigned"),
    "reduce": ("核减", "reduced"),
    "reject": ("驳回", "rejected"),
    "rekey": ("审计链重签", "audit chain re-keyed"),
    "request": ("提出申请", "requested"),
    "result": ("导入银行结果", "bank results imported"),
    "reveal": ("查看完整证件号", "full ID number viewed"),
    "revert": ("回退", "reverted"),
    "select": ("确认选房", "flat selected"),
    "sign": ("签约", "signed"),
    "skip": ("过号", "skipped"),
    "status": ("状态变更", "status changed"),
    "submit": ("提交审批", "submitted"),
    "unassign": ("取消分配", "unassigned"),
    "undo": ("撤销选房", "selection undone"),
    "unschedule": ("移出计划", "unscheduled"),
    "update": ("修改", "updated"),
    "upload_template": ("上传模板", "template uploaded"),
    "vacate": ("腾空验收", "vacated"),
    "void": ("作废", "voided"),
    "password_reset": ("重置密码", "password reset"),
    "password_change": ("修改密码", "password changed"),
    "accept": ("组织定单（受理）", "accepted"),
    "archive": ("归档", "archived"),
    "auto_close": ("逾期未验，系统结案", "closed by the system"),
    "census_correction": ("更正导入", "census corrected"),
    "close": ("结束", "closed"),
    "delivery": ("交房日期变更", "delivery dates changed"),
    "escalate": ("超期升级", "escalated"),
    "merge": ("合并重复诉求", "merged"),
    "moral.decide": ("道德银行异议处理", "objection decided"),
    "moral.object": ("道德银行公示异议", "objection raised"),
    "moral.propose": ("道德银行积分公示", "award proposed"),
    "moral.rule": ("道德银行积分规则", "earning rule changed"),
    "overdue": ("超期", "overdue"),
    "postpone": ("申请延期", "postponement asked"),
    "postpone_approve": ("批准延期", "postponement approved"),
    "postpone_deny": ("不批准延期", "postponement denied"),
    "receipt": ("登记收款", "receipt recorded"),
    "reopen": ("未解决，重新办理", "reopened"),
    "send_back": ("退回重派", "sent back"),
    "request_catalogue.load": ("载入诉求分类与部门", "request catalogue loaded"),
    "department.add_member": ("部门添加成员", "department member added"),
    "work_calendar.set": ("登记工作日历", "work calendar set"),
    "handover": ("交付钥匙（回迁）", "keys handed over"),
    "session": ("调解会谈", "mediation session"),
    "settle": ("结算", "settled"),
    "take": ("部门接单", "taken"),
    "timebank.activity": ("志愿活动", "volunteer activity"),
    "timebank.approve": ("审核服务时长通过", "hours approved"),
    "timebank.check_in": ("志愿活动签到", "checked in"),
    "timebank.check_out": ("志愿活动签退", "checked out"),
    "timebank.item": ("兑换目录", "catalogue item"),
    "timebank.reject": ("审核服务时长不通过", "hours rejected"),
    "timebank.setting": ("时间银行规则", "time-bank rule changed"),
    "timebank.signup": ("志愿活动报名", "signed up"),
    "timebank.verify": ("志愿者核实", "volunteer verified"),
    "timebank.volunteer": ("志愿者登记", "volunteer registered"),
    "verify": ("群众验单", "verified"),
}

ENTITIES: dict[str, tuple[str, str]] = {
    "agreement": ("协议", "agreement"),
    "agreement_change": ("协议变更申请", "agreement change"),
    "agreement_template": ("协议模板", "agreement template"),
    "attachment": ("附件", "attachment"),
    "audit_chain": ("审计链", "audit chain"),
    "block": ("片区", "block"),
    "building": ("房屋", "building"),
    "household_fact": ("方案事实", "policy fact"),
    "census": ("普查导入", "census import"),
    "demolition_record": ("拆除记录", "demolition record"),
    "dispatch_report": ("调度通报", "dispatch report"),
    "estate": ("安置小区", "estate"),
    "flat": ("房源", "flat"),
    "flat_type": ("户型", "flat type"),
    "housing_building": ("安置楼栋", "resettlement building"),
    "homestead": ("宅基地", "homestead"),
    "household": ("户", "household"),
    "household_assignment": ("包户", "assignment"),
    "household_campaign": ("攻坚情况", "campaign status"),
    "household_plan": ("一户一策", "household plan"),
    "instalment": ("付款计划", "instalment"),
    "ledger": ("台账", "ledger"),
    "member": ("家庭成员", "member"),
    "parcel": ("地块", "parcel"),
    "payment": ("支付", "payment"),
    "payment_batch": ("支付批次", "payment batch"),
    "plan_step": ("攻坚步骤", "plan step"),
    "policy_version": ("补偿方案版本", "policy version"),
    "project": ("项目", "project"),
    "selection": ("选房", "selection"),
    "selection_event": ("选房活动", "selection event"),
    "signing_terms": ("签约设置", "signing terms"),
    "stage_change": ("阶段变更", "stage change"),
    "team": ("专班", "team"),
    "tenant": ("承租人", "tenant"),
    "tenant_clearance": ("承租企业清退", "tenant clearance"),
    "user": ("用户", "user"),
    "vacate_record": ("腾空验收记录", "vacating record"),
    "valuation": ("评估", "valuation"),
    "visit": ("走访", "visit"),
    "bank_setting": ("时间银行规则", "time-bank setting"),
    "catalogue_item": ("兑换目录", "catalogue item"),
    "community": ("社区", "community"),
    "grid": ("网格", "grid"),
    "grid_building": ("网格楼栋", "grid building"),
    "group_measure_value": ("片区指标记录", "group measure value"),
    "grid_import": ("网格导入", "grid import"),
    "hours_claim": ("志愿服务时长", "hours claim"),
    "ledger_transfer": ("时间银行转账", "ledger transfer"),
    "mediation_case": ("矛盾调解", "mediation case"),
    "department": ("部门", "department"),
    "work_calendar": ("工作日历", "work calendar"),
    "service_category": ("诉求分类", "request category"),
    "moral_award": ("道德银行积分", "moral award"),
    "moral_rule": ("道德银行积分规则", "moral-bank rule"),
    "policy_draft": ("方案草稿", "policy draft"),
    "receivable": ("应收款", "receivable"),
    "service_request": ("居民诉求", "service request"),
    "settlement": ("选房结算", "settlement"),
    "volunteer": ("志愿者", "volunteer"),
    "volunteer_activity": ("志愿活动", "volunteer activity"),
    "volunteer_signup": ("志愿活动报名", "sign-up"),
    "whatif_scenario": ("测算方案", "what-if scenario"),
}

# Changed fields, by the key the services store in ``changes`` (any entity).
FIELDS: dict[str, str] = {
    "active": "启用",
    "address": "地址",
    "agreement_id": "协议",
    "agreement_no": "协议编号",
    "agreement_prefix": "协议编号前缀",
    "alert_no_visit_days": "未走访提醒天数",
    "amount_fen": "金额（分）",
    "approved_by": "审批人",
    "area": "面积",
    "attitude": "态度",
    "bank_ref": "银行流水号",
    "rise": "楼型",
    "batch_no": "批次号",
    "block": "片区",
    "block_id": "所属片区",
    "buildings": "房屋",
    "campaign.attitude": "攻坚：态度",
    "campaign.last_visit_at": "攻坚：最近走访",
    "campaign.next_due_on": "攻坚：下次走访日",
    "campaign.next_step": "攻坚：下一步",
    "campaign.visit_count": "攻坚：走访次数",
    "checklist": "验收清单",
    "cleared_on": "清退日期",
    "code": "编号",
    "commentary": "点评",
    "committed_fen": "已列入支付（分）",
    "concern_tags": "诉求标签",
    "concern_text": "诉求",
    "condition_deadline_on": "生效条件截止日",
    "condition_kind": "生效条件",
    "condition_rate_bp": "生效签约比例（万分比）",
    "contact_phone": "联系电话",
    "content_hash": "内容校验值",
    "contractor": "拆除单位",
    "credential_masked": "证件号/信用代码",
    "deadline_on": "截止日期",
    "decision_no": "征收决定文号",
    "demolish_on": "拆除日期",
    "demolished_on": "拆除日期",
    "description": "说明",
    "difficulty": "难度",
    "difficulty_reason": "难度原因",
    "display_name": "姓名",
    "district": "所在区",
    "due_on": "应付日期",
    "duration_min": "时长（分钟）",
    "effective_on": "生效日期",
    "escalated_to": "上报至",
    "facts_sha256": "事实校验值",
    "failed": "失败笔数",
    "failure_reason": "失败原因",
    "filename": "文件名",
    "from_stage": "原阶段",
    "geometry": "图形",
    "head_name": "户主",
    "headline": "标题",
    "homestead": "宅基地",
    "homesteads": "宅基地",
    "households": "户数",
    "id_number_masked": "身份证号",
    "idempotency_key": "提交编号",
    "inspector": "验收人",
    "instalments_due": "到期付款项",
    "is_active": "启用",
    "item_count": "笔数",
    "item_ids": "付款项",
    "keys_handed": "已交钥匙",
    "kind": "类别",
    "launched_on": "启动日期",
    "leader_id": "组长",
    "legal_area": "合法面积",
    "legal_basis": "法律依据",
    "level": "层级",
    "lines": "明细行数",
    "members": "家庭成员",
    "must_change_password": "下次登录须改密码",
    "name": "名称",
    "next_due_on": "下次走访日",
    "next_step": "下一步",
    "numbers_sha256": "数据校验值",
    "off_hours": "非工作时间",
    "on_sign_share_bp": "签约时支付比例（万分比）",
    "option": "补偿方式",
    "outcome": "结果",
    "owner_id": "负责人",
    "paid": "已付笔数",
    "paid_fen": "已付金额（分）",
    "paid_on": "支付日期",
    "parcel_id": "地块",
    "parent_id": "上级",
    "password": "密码",
    "payee_account": "收款账号",
    "payee_bank": "收款银行",
    "payee_name": "收款人",
    "pdf_sha256": "PDF 校验值",
    "persuaders": "参与劝导人员",
    "photo_ids": "照片",
    "place": "地点",
    "policy_hash": "方案校验值",
    "policy_version": "补偿方案版本",
    "purpose": "用途",
    "reached_on": "到达日期",
    "records": "记录数",
    "remark": "备注",
    "report_on": "通报日期",
    "revision": "修订号",
    "reward_fen": "奖励（分）",
    "reward_items": "奖励项目",
    "role": "角色",
    "sha256": "校验值",
    "sign_no": "签约顺序号",
    "sign_on": "签约日期",
    "signing_end_on": "签约期结束",
    "signing_start_on": "签约期开始",
    "size": "大小（字节）",
    "snapshot_id": "测算快照",
    "sort": "排序",
    "staff": "走访人员",
    "status": "状态",
    "summary": "概要",
    "target_sign_rate": "目标签约率",
    "team_id": "专班",
    "tenant": "承租人",
    "tenant_id": "承租人",
    "tenants": "承租人",
    "text": "内容",
    "title": "标题",
    "to_stage": "新阶段",
    "total_fen": "合计（分）",
    "user_id": "包户人",
    "username": "用户名",
    "vacate_on": "腾空日期",
    "vacated_on": "腾空日期",
    "measure_id": "指标",
    "value": "数值",
    "valuations": "评估",
    "version": "版本",
    "visited_at": "走访时间",
    "voided_at": "作废",
}

OTHER_FIELD = "其他字段"


def action_label(code: str, lang: str = "zh") -> str:
    """The words for an audited action (an unknown code is shown as "其他操作", never as code)."""
    pair = ACTIONS.get(code)
    if pair is None:
        return "其他操作" if lang == "zh" else "other action"
    return pair[0] if lang == "zh" else pair[1]


def entity_label(code: str, lang: str = "zh") -> str:
    """The words for a kind of audited record."""
    pair = ENTITIES.get(code)
    if pair is None:
        return "其他记录" if lang == "zh" else "other record"
    return pair[0] if lang == "zh" else pair[1]


def field_label(name: str, extra: dict[str, str] | None = None) -> str:
    """The words for a changed field: ``extra`` (a form's own labels) first, then the registry."""
    if extra and name in extra:
        return extra[name]
    return FIELDS.get(name) or OTHER_FIELD


# Keys of a snapshot that name the record, most telling first.
_NAMING_KEYS = ("agreement_no", "username", "code", "name", "title", "headline", "filename")


def record_name(entity: str, entity_id: str, changes: Any, known: str = "", lang: str = "zh") -> str:
    """What a record is called: ``户 LJ00001 段平``, ``协议 DP-QH-0001``, ``批次 第 3 批``.

    ``known`` is the name the caller looked up (a household's code and head, a user's name);
    otherwise a naming field of the record's own snapshot; else the record number.
    """
    label = entity_label(entity, lang)
    if known:
        return f"{label} {known}"
    if isinstance(changes, dict):
        if entity == "payment_batch" and "batch_no" in changes:
            value = _after(changes["batch_no"])
            if value not in (None, ""):
                return f"{label} 第 {value} 批" if lang == "zh" else f"{label} {value}"
        for key in _NAMING_KEYS:
            if key in changes:
                value = _after(changes[key])
                if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                    return f"{label} {value}"
    return f"{label} 第 {entity_id} 号" if lang == "zh" else f"{label} no. {entity_id}"


def _after(value: Any) -> Any:
    """The current value of a ``[before, after]`` pair (a snapshot's plain value as is)."""
    if isinstance(value, list) and len(value) == 2:
        return value[1] if value[1] is not None else value[0]
    return value


def action_codes() -> list[str]:
    """Every action code with a label."""
    return sorted(ACTIONS)


def entity_codes() -> list[str]:
    """Every record kind with a label."""
    return sorted(ENTITIES)
