"""``anju audit``: verify the keyed chain, anchor its head outside the database, re-MAC it, make keys."""

from __future__ import annotations

import secrets

import typer
from rich.console import Console
from rich.markup import escape

from anju.audit import anchoring, anchors, keys
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.errors import DomainError

app = typer.Typer(help="审计日志 (audit log)", no_args_is_help=True)
console = Console(soft_wrap=True)  # long anchor lines and messages stay on one line


def _print_result(result: audit_service.VerifyResult) -> None:
    key_text = "、".join(f"{k}（{n:,} 条）" for k, n in sorted(result.key_counts.items()) if k) or "无"
    console.print(f"已核验记录 (records checked): {result.checked:,}")
    console.print(
        f"签名密钥 (key ids): {escape(key_text)}"
        + (f"；旧式无密钥记录 {result.legacy:,} 条" if result.legacy else "")
    )
    superseded = f"，因重签只核对序号 {result.anchors_superseded} 个" if result.anchors_superseded else ""
    console.print(
        f"锚点 (anchors): 读取 {result.anchors_read} 个，逐条比对 {result.anchors_checked} 次{superseded}"
    )
    if result.newest_anchor is not None:
        a = result.newest_anchor
        console.print(f"最新锚点 (newest anchor): 第 {a.seq} 条，{a.at}")
    for note in result.notes:
        console.print(f"[yellow]注意：{escape(note)}[/yellow]")


@app.command("verify")
def verify(
    anchor: list[str] = typer.Option(
        [], "--anchor", help="另外核对的锚点行（如从打印的日报抄回），可重复 (an extra anchor line)"
    ),
    allow_legacy: bool = typer.Option(
        False,
        "--allow-legacy",
        help="放行未被锚点覆盖的旧式无密钥记录前缀 (accept an unanchored legacy prefix)",
    ),
) -> None:
    """Verify the chain against the audit keys and every anchor; exit 1 naming the first problem."""
    result = anchoring.verify_now(extra_anchor_lines=anchor, allow_legacy=allow_legacy)
    _print_result(result)
    if result.ok:
        console.print(
            f"[green]审计链完整：已核验 {result.checked} 条记录 (audit chain intact, {result.checked} records)[/green]"
        )
        if result.head is not None:
            console.print("当前链头签名（可打印存档，日后以 --anchor 核对）(signed current head):")
            console.print(result.head.line(), markup=False, highlight=False, soft_wrap=True)
        return
    where = f"第 {result.broken_seq} 条记录" if result.broken_seq is not None else ""
    where += f"（id={result.broken_id}）" if result.broken_id is not None else ""
    where += "：" if where else ""
    where_en = f" at seq {result.broken_seq}" if result.broken_seq is not None else ""
    where_en += f" (id {result.broken_id})" if result.broken_id is not None else ""
    console.print(
        f"[red]审计链核验失败：{escape(where + result.problem)}\n"
        f"audit chain broken{where_en}: {escape(result.problem_en)}[/red]"
    )
    raise typer.Exit(1)


@app.command("anchor")
def anchor(force: bool = typer.Option(False, "--force", help="链头未变也写一行")) -> None:
    """Append the signed chain head to the anchor folder (for cron) and print it."""
    try:
        outcome = anchoring.anchor_now(force=force)
    except DomainError as exc:
        console.print(f"[red]{escape(exc.message_zh)}[/red]")
        raise typer.Exit(1) from exc
    if outcome.anchor is None:
        console.print("审计链为空，无需锚定 (empty chain: nothing to anchor)")
        return
    if outcome.written:
        console.print(f"已写入锚点 (anchor written) → {outcome.path}")
    else:
        console.print(f"链头自上一锚点后未变，未重复写入 (head unchanged) — {anchors.anchor_dir()}")
    console.print(outcome.anchor.line(), markup=False, highlight=False, soft_wrap=True)


@app.command("head")
def head() -> None:
    """Print the newest anchor line (for the daily report); nothing is written."""
    last = anchors.last_anchor(anchors.anchor_dir())
    if last is None:
        console.print("尚无锚点 (no anchor yet): 运行 anju audit anchor")
        raise typer.Exit(1)
    console.print(last.line(), markup=False, highlight=False, soft_wrap=True)


@app.command("rekey")
def rekey(
    actor_name: str = typer.Option("operator", "--actor", help="记入审计的操作人"),
) -> None:
    """Verify the chain with every known key, then re-MAC every record with the current key (audited)."""
    try:
        result, new_head = anchoring.rekey_now(actor=Actor.system(actor_name))
    except DomainError as exc:
        console.print(f"[red]{escape(exc.message_zh)}[/red]")
        raise typer.Exit(1) from exc
    old = "、".join(f"{k or '旧式无密钥'}（{n:,} 条）" for k, n in result.old_key_counts.items()) or "无"
    console.print(
        f"[green]已重签 {result.records:,} 条记录（改写 {result.rewritten:,} 条），现全部使用密钥 {result.key_id}；"
        f"原密钥：{escape(old)}；本次操作记为第 {result.audit_seq} 条审计记录[/green]"
    )
    if new_head is not None:
        console.print(new_head.line(), markup=False, highlight=False, soft_wrap=True)


@app.command("keygen")
def keygen(key_id: str = typer.Argument(..., help="新密钥的编号，如 k2")) -> None:
    """Print a new random audit key entry to put first in ANJU_AUDIT_KEYS."""
    entry = f"{key_id}:{secrets.token_hex(keys.MIN_KEY_BYTES)}"
    try:
        keys.parse_keys(entry)
    except keys.AuditKeyError as exc:
        console.print(f"[red]密钥编号无效：{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    console.print(entry, markup=False, highlight=False)
