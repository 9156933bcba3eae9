"""Cases part: a case's household, its members, buildings, homestead, tenants, chosen flats and
declared facts, read strictly (the declared facts' values are checked against the policy later)."""

from __future__ import annotations

from typing import Any

from anju.policy.cases.values import Ref, _ValueReader, shown, where, where_en
from anju.policy.facts import (
    Building,
    ChosenFlat,
    Determination,
    Homestead,
    Household,
    Member,
    ProjectKind,
    Structure,
    Tenant,
    TenantKind,
    Use,
)
from anju.policy.facts.household import READY_WORDS, RISE_WORDS, default_rise

DATES = (
    "sign_on",
    "vacate_on",
    "agreement_effective_on",
    "delivery_planned_on",
    "delivery_actual_on",
    "move_back_on",
)
HOUSEHOLD_KEYS = {
    "code",
    "block_code",
    "block",
    "block_chain",
    "kind",
    "flags",
    "members",
    "buildings",
    "homestead",
    "tenants",
    "facts",
    "flats",
    *DATES,
}
MEMBER_FLAGS = (
    "dibao",
    "serious_illness",
    "martyr_family",
    "shidu",
    "only_child",
    "youfu",
    "resettlement_counted",
)
MEMBER_KEYS = {"name", "relation", "disability_grade", "facts", *MEMBER_FLAGS}
BUILDING_MONEY = ("assessed_unit_price", "assessed_value", "decoration", "fixtures")
BUILDING_KEYS = {
    "certificate_no",
    "structure",
    "use",
    "floors",
    "built_year",
    "legal_area",
    "unregistered_area",
    "unregistered_determination",
    *BUILDING_MONEY,
    "facts",
}
HOMESTEAD_KEYS = {"area", "approved_year", "certificate_no"}
TENANT_KEYS = {"name", "kind", "area", "business"}
FLAT_KEYS = {
    "code",
    "area",
    "building",
    "floor",
    "type",
    "flat_type",
    "price",
    "purchase_total",
    "ready",
    "delivered_on",
    "rise",
    "building_floors",
}


class _HouseholdReader(_ValueReader):
    """Reads households and their parts."""

    def household(
        self, d: dict[Any, Any], path: tuple[Any, ...], flats: Any, flats_path: tuple[Any, ...]
    ) -> Household | None:
        before = len(self.problems)
        code = self.text(d.get("code"), (*path, "code"), required=True)
        if "block" in d and "block_code" in d:
            self.key_err(
                path, "block", "cases", "block 与 block_code 只能写一个", "give block or block_code, not both"
            )
        block = self.text(
            d.get("block_code", d.get("block")), (*path, "block_code" if "block_code" in d else "block")
        )
        chain = self.chain(d.get("block_chain"), (*path, "block_chain"))
        kind = (
            self.choice(d["kind"], (*path, "kind"), ProjectKind)
            if d.get("kind") is not None
            else "state_land"
        )
        dates = {k: self.day(d[k], (*path, k)) if d.get(k) is not None else None for k in DATES}
        flags = self.flags(d.get("flags"), (*path, "flags"))
        members = self.each(d.get("members"), (*path, "members"), MEMBER_KEYS, self.member)
        buildings = self.each(d.get("buildings"), (*path, "buildings"), BUILDING_KEYS, self.building)
        tenants = self.each(d.get("tenants"), (*path, "tenants"), TENANT_KEYS, self.tenant)
        chosen = self.each(flats, flats_path, FLAT_KEYS, self.flat)
        homestead = None
        if d.get("homestead") is not None:
            hs = self.fields(d["homestead"], (*path, "homestead"), HOMESTEAD_KEYS)
            if hs is not None:
                hp = (*path, "homestead")
                area = self.area(hs.get("area"), (*hp, "area"))
                year = self.opt_year(hs.get("approved_year"), (*hp, "approved_year"))
                cert = self.text(hs.get("certificate_no"), (*hp, "certificate_no")) or ""
                homestead = Homestead(area, year, cert) if area is not None else None
        facts = self.facts(d.get("facts"), (*path, "facts"))
        if len(self.problems) > before or code is None or kind is None or flags is None:
            return None
        return Household(
            code=code,
            block_code=block or "",
            block_chain=chain or (),
            kind=ProjectKind(kind),
            sign_on=dates["sign_on"],
            vacate_on=dates["vacate_on"],
            flags=frozenset(flags),
            members=tuple(members),
            buildings=tuple(buildings),
            homestead=homestead,
            tenants=tuple(tenants),
            facts=facts,
            agreement_effective_on=dates["agreement_effective_on"],
            delivery_planned_on=dates["delivery_planned_on"],
            delivery_actual_on=dates["delivery_actual_on"],
            move_back_on=dates["move_back_on"],
            flats=tuple(chosen),
        )

    def each(self, value: Any, path: tuple[Any, ...], keys: set[str], build: Any) -> list[Any]:
        """The entries of a list of mappings, each read by ``build`` (entries with problems left out)."""
        out = []
        for j, v in enumerate(self.items_of(value, path) or []):
            d = self.fields(v, (*path, j), keys)
            if d is not None and (x := build(d, (*path, j))) is not None:
                out.append(x)
        return out

    def chain(self, value: Any, path: tuple[Any, ...]) -> tuple[str, ...] | None:
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(p.strip() for p in value.replace(">", "/").split("/") if p.strip())
        names = self.names(value, path)
        return None if names is None else tuple(names)

    def flags(self, value: Any, path: tuple[Any, ...]) -> list[str] | None:
        if value is None:
            return []
        if isinstance(value, str):
            return [f.strip() for f in value.replace("，", ",").split(",") if f.strip()]
        return self.names(value, path)

    def facts(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        """Declared facts by id, of a household, a building or a member (checked against the
        policy's declarations, their level included, by the caller)."""
        out: dict[str, Any] = {}
        for k, v in self.named(value, path).items():
            if isinstance(v, dict | list):
                self.err(
                    (*path, k),
                    "type",
                    f"{where((*path, k))} 应为一个值（数字、日期、是/否或类别），却是“{shown(v)}”",
                    f"{where_en((*path, k))} must be a single value",
                )
                continue
            self.refs.append(Ref("fact", str(k), (*path, k), v))
            if v is not None:
                out[str(k)] = v
        return out

    def opt_year(self, value: Any, path: tuple[Any, ...]) -> int | None:
        return None if value is None else self.count(value, path, low=1000, high=9999)

    def member(self, d: dict[Any, Any], path: tuple[Any, ...]) -> Member | None:
        before = len(self.problems)
        flags = {k: self.flag(d[k], (*path, k)) for k in MEMBER_FLAGS if d.get(k) is not None}
        grade = d.get("disability_grade")
        grade_n = (
            None
            if grade is None or (grade == 0 and not isinstance(grade, bool))
            else self.count(grade, (*path, "disability_grade"), low=1, high=4)
        )
        name = self.text(d.get("name"), (*path, "name")) or ""
        relation = self.text(d.get("relation"), (*path, "relation")) or ""
        facts = self.facts(d.get("facts"), (*path, "facts"))
        if len(self.problems) > before:
            return None
        return Member(
            name=name,
            relation=relation,
            dibao=bool(flags.get("dibao", False)),
            disability_grade=grade_n,
            serious_illness=bool(flags.get("serious_illness", False)),
            martyr_family=bool(flags.get("martyr_family", False)),
            shidu=bool(flags.get("shidu", False)),
            only_child=bool(flags.get("only_child", False)),
            youfu=bool(flags.get("youfu", False)),
            resettlement_counted=bool(flags.get("resettlement_counted", True)),
            facts=facts,
        )

    def building(self, d: dict[Any, Any], path: tuple[Any, ...]) -> Building | None:
        before = len(self.problems)
        structure = (
            self.choice(d["structure"], (*path, "structure"), Structure)
            if d.get("structure") is not None
            else "brick_concrete"
        )
        use = self.choice(d["use"], (*path, "use"), Use) if d.get("use") is not None else "residential"
        det = (
            self.choice(d["unregistered_determination"], (*path, "unregistered_determination"), Determination)
            if d.get("unregistered_determination") is not None
            else "pending"
        )
        floors = (
            self.count(d["floors"], (*path, "floors"), low=1, high=999) if d.get("floors") is not None else 1
        )
        year = self.opt_year(d.get("built_year"), (*path, "built_year"))
        legal = self.area(d.get("legal_area"), (*path, "legal_area"))
        unreg = self.area(d.get("unregistered_area"), (*path, "unregistered_area"))
        money = {k: self.fen(d[k], (*path, k)) for k in BUILDING_MONEY if d.get(k) is not None}
        cert = self.text(d.get("certificate_no"), (*path, "certificate_no")) or ""
        facts = self.facts(d.get("facts"), (*path, "facts"))
        if len(self.problems) > before or structure is None or use is None or det is None or floors is None:
            return None
        assert legal is not None and unreg is not None
        return Building(
            certificate_no=cert,
            structure=Structure(structure),
            use=Use(use),
            floors=floors,
            built_year=year or 2000,
            legal_area=legal,
            unregistered_area=unreg,
            unregistered_determination=Determination(det),
            assessed_unit_price_fen=money.get("assessed_unit_price"),
            assessed_value_fen=money.get("assessed_value"),
            decoration_fen=money.get("decoration"),
            fixtures_fen=money.get("fixtures"),
            facts=facts,
        )

    def tenant(self, d: dict[Any, Any], path: tuple[Any, ...]) -> Tenant | None:
        before = len(self.problems)
        kind = self.choice(d["kind"], (*path, "kind"), TenantKind) if d.get("kind") is not None else "person"
        area = self.area(d.get("area"), (*path, "area"))
        name = self.text(d.get("name"), (*path, "name")) or ""
        business = self.text(d.get("business"), (*path, "business")) or ""
        if len(self.problems) > before or kind is None or area is None:
            return None
        return Tenant(name=name, kind=TenantKind(kind), area=area, business=business)

    def flat(self, d: dict[Any, Any], path: tuple[Any, ...]) -> ChosenFlat | None:
        before = len(self.problems)
        code = self.text(d.get("code"), (*path, "code"), required=True)
        area = self.area(d.get("area"), (*path, "area"))
        floor = (
            self.count(d["floor"], (*path, "floor"), low=-99, high=999) if d.get("floor") is not None else 0
        )
        if "type" in d and "flat_type" in d:
            self.key_err(
                path, "flat_type", "cases", "type 与 flat_type 只能写一个", "give type or flat_type, not both"
            )
        ftype = (
            self.text(d.get("type", d.get("flat_type")), (*path, "type" if "type" in d else "flat_type"))
            or ""
        )
        building = self.text(d.get("building"), (*path, "building")) or ""
        price = self.fen(d["price"], (*path, "price")) if d.get("price") is not None else None
        total = (
            self.fen(d["purchase_total"], (*path, "purchase_total"))
            if d.get("purchase_total") is not None
            else None
        )
        ready = self.word(d.get("ready"), (*path, "ready"), READY_WORDS)
        delivered = (
            self.day(d["delivered_on"], (*path, "delivered_on"))
            if d.get("delivered_on") is not None
            else None
        )
        rise = self.word(d.get("rise"), (*path, "rise"), RISE_WORDS)
        floors = (
            self.count(d["building_floors"], (*path, "building_floors"), low=1, high=999)
            if d.get("building_floors") is not None
            else None
        )
        if len(self.problems) > before or code is None or area is None or floor is None:
            return None
        return ChosenFlat(
            code,
            area,
            building,
            floor,
            ftype,
            price,
            total,
            ready or "",
            delivered,
            rise or default_rise(floors),
        )

    def word(self, value: Any, path: tuple[Any, ...], words: tuple[str, ...]) -> str | None:
        """One of a few Chinese words (现房/期房, 多层/高层); none written: ``None``."""
        text = self.text(value, path)
        if text is None or text in words:
            return text
        self.err(
            path,
            "choice",
            f"{where(path)} 应为{'或'.join(words)}，却是“{text}”",
            f"{where_en(path)} must be one of {', '.join(words)}, got '{text}'",
        )
        return None

    # ------------------------------------------------------------------ expectations
