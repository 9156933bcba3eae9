"""Census import (入户调查表): the template, reading, validation of every cell, and the bulk write.

The workbook has the sheets 户 (households), 成员 (members), 房屋 (buildings) and optionally
承租人 (tenants), 宅基地 (homesteads) and 评估 (valuations). Each sheet has one header row in
Chinese (the first row that contains 户号); a 填写说明 sheet explains every column. Child sheets
refer to the 户 sheet by 户号; valuations name their building by 房屋序号 or 产权证号.

A ``.csv`` file holds the 户 sheet only (UTF-8 with or without BOM, or GB18030 as saved by
Excel/WPS on Chinese Windows); members and buildings need the xlsx template.

The import is all-or-nothing: :func:`validate` reports every bad cell with sheet, Excel row
number, column header and column letter; :func:`write` runs only on a clean file and inserts in
bulk (multi-row INSERTs on SQLite, the driver's ``executemany`` elsewhere), appending one audit
record per household plus a summary record. The caller owns the transaction (CLI command, web
request or job).

Speed (issue #2: an import within 3x of reading the file): sheets are parsed on a second thread
while the previous one is checked column by column (:mod:`anju.household.column_cleaning`);
the INSERTs run on a thread of their own; a big import encrypts identity numbers and builds the
audit snapshots in a forked child process (:mod:`anju.core.forked`).

Parts (import the package, not the parts: ``from anju.household import census``):

- ``spec``: the sheets and columns of the workbook and the fields that clean them;
- ``results``: cell errors with their position, raw and clean rows, preview, summary;
- ``reading``: an uploaded xlsx or csv into raw rows, sheet by sheet;
- ``context``: what the check needs of the project (blocks, codes, identity digests);
- ``validation``: the check of every cell, one sheet at a time;
- ``snapshots``: each household's audit snapshot;
- ``inserts``: the bulk INSERT machinery on a thread of its own;
- ``writing``: the bulk write of a clean census and its audit;
- ``importing``: one call to read, check and write a file or in-memory rows;
- ``template``: the template workbook;
- ``policy_facts``: the facts the project's policy declares, as extra columns of the 户 sheet;
- ``corrections``: 更正导入, corrected rows for households already in the project: a preview per
  household (field, before, after) and an all-or-nothing, audited apply.
"""

from anju.household.census.context import *  # noqa: F403
from anju.household.census.corrections import *  # noqa: F403
from anju.household.census.importing import *  # noqa: F403
from anju.household.census.policy_facts import *  # noqa: F403
from anju.household.census.reading import *  # noqa: F403
from anju.household.census.results import *  # noqa: F403
from anju.household.census.spec import *  # noqa: F403
from anju.household.census.template import *  # noqa: F403
from anju.household.census.validation import *  # noqa: F403
from anju.household.census.writing import *  # noqa: F403
