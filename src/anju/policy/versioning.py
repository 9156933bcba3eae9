"""Versioning: content hashes, publishing (immutable) and the diff between two versions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.policy.errors import Location, PolicyError, Problem
from anju.policy.model import Policy, load_yaml


def _canon(x: Any) -> Any:
    if isinstance(x, Decimal):
        return {"$dec": format(x.normalize(), "f")}
    if isinstance(x, date):
        return {"$date": x.isoformat()}
    if isinstance(x, dict):
        return {str(k): _canon(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_canon(v) for v in x]
    return x


def content_hash(text: str) -> str:
    """SHA-256 of a policy's content (the parsed document, excluding ``status`` and ``content_hash``),
    so formatting and comments do not change it but every value does."""
    data, _ = load_yaml(text)
    data = dict(data or {})
    meta = dict(data.get("policy") or {})
    meta.pop("content_hash", None)
    meta.pop("status", None)
    data["policy"] = meta
    blob = json.dumps(_canon(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def verify_published(policy: Policy) -> list[Problem]:
    """Problems if a policy marked published has no hash or its content no longer matches it."""
    if policy.meta.status != "published":
        return []
    loc = Location(policy.file, 1, 1)
    if not policy.meta.content_hash:
        return [
            Problem(
                "hash", "已发布的方案缺少 content_hash", "a published policy must carry its content_hash", loc
            )
        ]
    actual = content_hash(policy.text)
    if actual != policy.meta.content_hash:
        return [
            Problem(
                "hash",
                "已发布的方案内容被修改（内容哈希不符）；修订请另发新版本",
                "a published policy was changed (content hash mismatch); publish an amendment as a new version",
                loc,
            )
        ]
    return []


def publish_text(text: str) -> str:
    """Mark a policy text as published and stamp its content hash (added under ``policy:``)."""
    h = content_hash(text)
    lines = text.splitlines()
    out: list[str] = []
    in_meta = False
    stamped = False
    for line in lines:
        if line.startswith("policy:"):
            in_meta = True
            out.append(line)
            continue
        if in_meta and line.strip().startswith(("status:", "content_hash:")):
            continue
        if in_meta and line and not line.startswith((" ", "\t", "#")):
            out.extend(["  status: published", f'  content_hash: "{h}"'])
            in_meta = False
            stamped = True
        out.append(line)
    if in_meta and not stamped:
        out.extend(["  status: published", f'  content_hash: "{h}"'])
    return "\n".join(out) + "\n"


class PolicyStore:
    """A folder of published policy versions; a published version is never overwritten."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, name: str, version: str) -> Path:
        """File of one version."""
        return self.root / f"{name}@{version}.yaml"

    def publish(self, policy: Policy) -> Path:
        """Store ``policy`` as published; refuses to replace a different published text."""
        text = publish_text(policy.text)
        target = self.path(policy.meta.name, policy.meta.version)
        if target.exists():
            if content_hash(target.read_text(encoding="utf-8")) != content_hash(text):
                raise PolicyError(
                    [
                        Problem(
                            "immutable",
                            f"版本 {policy.meta.version} 已发布，内容不可更改；请使用新版本号",
                            f"version {policy.meta.version} is already published and cannot change; use a new version",
                            Location(policy.file, 1, 1),
                        )
                    ]
                )
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two policy versions."""

    kind: str  # "policy" | "parameter" | "clock" | "tier" | "derived" | "item" | "option" | "swap"
    name: str
    field: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}.{self.field}: {self.old} -> {self.new}"


def _show(x: Any) -> str:
    if x is None:
        return "—"
    return json.dumps(_canon(x), ensure_ascii=False, sort_keys=True) if isinstance(x, dict | list) else str(x)


def _flatten(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(x, list) and x and all(isinstance(v, dict) for v in x):
        out = {}
        for i, v in enumerate(x):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: x}


def diff(a: Policy, b: Policy) -> list[Change]:
    """Every changed metadata field, parameter, clock, tier, derived value, option and item."""
    ra: dict[str, Any] = a.raw or {}
    rb: dict[str, Any] = b.raw or {}
    out: list[Change] = []
    fa = _flatten(ra.get("policy") or {})
    fb = _flatten(rb.get("policy") or {})
    for k in sorted(set(fa) | set(fb)):
        if k in ("content_hash", "status"):
            continue
        if _canon(fa.get(k)) != _canon(fb.get(k)):
            out.append(Change("policy", "policy", k, _show(fa.get(k)), _show(fb.get(k))))
    for section, kind in (
        ("parameters", "parameter"),
        ("clocks", "clock"),
        ("tiers", "tier"),
        ("derived", "derived"),
        ("options", "option"),
        ("measures", "measure"),
    ):
        sa = ra.get(section) or {}
        sb = rb.get(section) or {}
        for name in list(sa) + [n for n in sb if n not in sa]:
            if name not in sb:
                out.append(Change(kind, str(name), "(removed 删除)", _show(sa[name]), "—"))
                continue
            if name not in sa:
                out.append(Change(kind, str(name), "(added 新增)", "—", _show(sb[name])))
                continue
            xa = _flatten(sa[name])
            xb = _flatten(sb[name])
            for k in sorted(set(xa) | set(xb)):
                if _canon(xa.get(k)) != _canon(xb.get(k)):
                    out.append(Change(kind, str(name), k or "value", _show(xa.get(k)), _show(xb.get(k))))
    ia = {str(i.get("id")): i for i in ra.get("items") or [] if isinstance(i, dict)}
    ib = {str(i.get("id")): i for i in rb.get("items") or [] if isinstance(i, dict)}
    for name in list(ia) + [n for n in ib if n not in ia]:
        if name not in ib:
            out.append(Change("item", name, "(removed 删除)", _show(ia[name].get("label")), "—"))
            continue
        if name not in ia:
            out.append(Change("item", name, "(added 新增)", "—", _show(ib[name].get("label"))))
            continue
        xa = _flatten(ia[name])
        xb = _flatten(ib[name])
        for k in sorted(set(xa) | set(xb)):
            if _canon(xa.get(k)) != _canon(xb.get(k)):
                out.append(Change("item", name, k, _show(xa.get(k)), _show(xb.get(k))))
    ta = {str(x.get("id")): x for x in ra.get("subtotals") or [] if isinstance(x, dict)}
    tb = {str(x.get("id")): x for x in rb.get("subtotals") or [] if isinstance(x, dict)}
    for name in list(ta) + [n for n in tb if n not in ta]:
        if name not in tb:
            out.append(Change("subtotal", name, "(removed 删除)", _show(ta[name].get("label")), "—"))
        elif name not in ta:
            out.append(Change("subtotal", name, "(added 新增)", "—", _show(tb[name].get("label"))))
        else:
            xa, xb = _flatten(ta[name]), _flatten(tb[name])
            for k in sorted(set(xa) | set(xb)):
                if _canon(xa.get(k)) != _canon(xb.get(k)):
                    out.append(Change("subtotal", name, k, _show(xa.get(k)), _show(xb.get(k))))
    sa = _flatten(ra.get("swap_settlement") or {})
    sb = _flatten(rb.get("swap_settlement") or {})
    for k in sorted(set(sa) | set(sb)):
        if _canon(sa.get(k)) != _canon(sb.get(k)):
            out.append(Change("swap", "swap_settlement", k, _show(sa.get(k)), _show(sb.get(k))))
    return out
