"""Every action and record kind any service audits has words; fields are named, never shown as code."""

from __future__ import annotations

import ast
from pathlib import Path

from anju.audit import labels

SRC = Path(__file__).resolve().parents[2] / "src" / "anju"


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def audited_codes() -> tuple[set[str], set[str]]:
    """The action and entity codes of the source: string literals given as ``action=`` / ``entity=``
    (to ``audit_service.record``, ``AuditEntry`` and every wrapper), given positionally to a wrapper
    whose parameter is called ``action`` / ``entity``, or assigned to a variable of that name
    (``ENTITY = "payment_batch"``, ``action = "create" if ... else "update"``)."""
    actions: set[str] = set()
    entities: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        wrappers: dict[str, dict[str, int]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                params = [a.arg for a in node.args.posonlyargs + node.args.args]
                for name in ("action", "entity"):
                    if name in params:
                        wrappers.setdefault(node.name, {})[name] = params.index(name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                for kw in node.keywords:
                    if kw.arg == "action":
                        actions.update(_strings(kw.value))
                    elif kw.arg == "entity":
                        entities.update(_strings(kw.value))
                for name, index in wrappers.get(func, {}).items():
                    if index < len(node.args):
                        (actions if name == "action" else entities).update(_strings(node.args[index]))
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.lower() == "action":
                        actions.update(_strings(node.value))
                    if isinstance(target, ast.Name) and target.id.lower() == "entity":
                        entities.update(_strings(node.value))
    return actions, entities


def test_the_collector_sees_the_audit_calls() -> None:
    actions, entities = audited_codes()
    # literals, a wrapper's positional argument, a module constant, a conditional assignment
    assert {"sign", "reveal", "payment_commit", "rekey", "password_reset"} <= actions
    assert {"policy_version", "payment_batch", "household_assignment", "user"} <= entities


def test_every_audited_action_and_entity_has_chinese_words() -> None:
    actions, entities = audited_codes()
    assert sorted(actions - set(labels.ACTIONS)) == []
    assert sorted(entities - set(labels.ENTITIES)) == []
    for code in actions:
        zh = labels.action_label(code)
        assert zh != code and not zh.isascii(), code
    for code in entities:
        zh = labels.entity_label(code)
        assert zh != code and not zh.isascii(), code


def test_labels_never_fall_back_to_the_code() -> None:
    assert labels.action_label("reveal") == "查看完整证件号"
    assert labels.entity_label("policy_version") == "补偿方案版本"
    assert labels.field_label("sign_on") == "签约日期"
    assert labels.action_label("no_such_action") == "其他操作"
    assert labels.entity_label("no_such_thing") == "其他记录"
    assert labels.field_label("no_such_field") == "其他字段"
    assert labels.field_label("name", {"name": "承租人"}) == "承租人"
    assert labels.action_label("sign", "en") == "signed"


def test_records_are_named_by_what_they_are() -> None:
    assert labels.record_name("household", "1", None, "LJ00001 段平") == "户 LJ00001 段平"
    assert labels.record_name("agreement", "7", {"agreement_no": [None, "XX-0001"]}) == "协议 XX-0001"
    assert labels.record_name("payment_batch", "3", {"batch_no": 2}) == "支付批次 第 2 批"
    assert labels.record_name("project", "1", {"name": [None, "青溪片区"]}) == "项目 青溪片区"
    assert labels.record_name("visit", "12", {"outcome": "约定再谈"}) == "走访 第 12 号"
