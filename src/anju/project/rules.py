"""Pure vocabularies of projects and blocks."""

from __future__ import annotations

PROJECT_KINDS = {
    "state_land": "国有土地上房屋征收",
    "collective_land": "集体土地征收",
    "shantytown": "棚户区改造",
}
PROJECT_STATUSES = {
    "survey": "调查登记",
    "planning": "方案征求意见",
    "decided": "征收决定",
    "signing": "签约期",
    "clearing": "腾空拆除",
    "closed": "已结束",
}
BLOCK_LEVELS = {"area": "片区", "village": "村", "group": "组", "block": "区块"}
